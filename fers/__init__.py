"""FERS: background feature enhancement for hyperspectral anomaly detection.

Implements "Rebellious Student" (decoupled complementary spectral-spatial learning):
a spectral Feature Enhancement Network (Spe-FEN, FERD) and a spatial one (Spa-FEN), whose
enhanced features feed the parameter-free global RX detector.

Array conventions used throughout the package:
  * a single cube is ``(H, W, B)`` float32, bands last (as stored on disk);
  * a batch for the networks is ``(N, B, H, W)`` (PyTorch layout).
"""

__version__ = "0.1.0"

from .errors import FersInputError  # noqa: F401

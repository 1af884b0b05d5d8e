"""FERS: background feature enhancement for hyperspectral anomaly detection.

Implements "Rebellious Student" (decoupled complementary spectral-spatial learning): a spectral
Feature Enhancement Network (Spe-FEN, FERD) and a spatial one (Spa-FEN), whose enhanced features
feed the parameter-free global RX detector.

Public API::

    from fers import detect, load_cube
    scene = load_cube("scene.mat")             # Scene: cube (H, W, B) float32, gt (H, W) bool | None
    res = detect(scene.cube, scene.gt)         # DetectResult: maps, auc, default_method, ...
    res.to_dict(); res.save_npz("maps.npz")

Errors: every refusal is a :class:`FersError` (kinds: input, model, resource, cluster; :mod:`fers.errors`).
Settings from the environment: :mod:`fers.settings` (docs/settings.md).

Array conventions: a cube is ``(H, W, B)`` float32, bands last (as stored on disk); a batch for
the networks is ``(N, B, H, W)`` (PyTorch layout).
"""

from fers._version import __version__
from fers.errors import FersClusterError, FersError, FersInputError, FersModelError, FersResourceError
from fers.io import Scene, load_cube
from fers.pipeline import detect
from fers.result import DetectResult

__all__ = ["detect", "DetectResult", "load_cube", "Scene", "FersError", "FersInputError", "FersModelError",
           "FersResourceError", "FersClusterError", "__version__"]

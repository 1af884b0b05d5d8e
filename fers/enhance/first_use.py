"""The one door from inference into the export code: ONNX files exported on first use.

``make_enhancer(..., backend="onnx")`` with a user's ``.pt`` checkpoint (or ``build_missing``) needs
ONNX files that match it; they are exported once into the user cache. That needs PyTorch and the
export code (:mod:`fers.export`), which nothing else at run time imports (tests/test_layout.py allows
this module alone, and only lazily inside the function).
"""

from __future__ import annotations

from pathlib import Path


def export_on_first_use(n_bands: int, checkpoint) -> tuple[Path, Path]:
    """``(spe_path, spa_path)`` of ONNX files matching ``checkpoint``, exported into the user cache
    when missing or outdated (:func:`fers.export.exporter.ensure_onnx`).

    Parameters
    ----------
    n_bands : int
        Band count ``N`` of the model.
    checkpoint : str or os.PathLike
        The ``.pt`` checkpoint (shipped or the user's).

    Returns
    -------
    tuple of Path
        The Spe-FEN and Spa-FEN ``.onnx`` files.
    """
    from fers.export.exporter import ensure_onnx

    return ensure_onnx(n_bands, checkpoint=checkpoint)

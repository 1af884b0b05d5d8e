"""Feature enhancement: the two FENs (paper eq. 4 and 8) behind one interface.

An enhancer has ``.n_bands``, ``.config`` and ``.enhance(h (H, W, N)) -> (F_spe, F_spa)`` (each
``(H, W, N)`` float32; ``F_spa`` is None for a Spe-FEN-only checkpoint). Backends:

* ``torch``: :class:`fers.enhance.torch_backend.TorchEnhancer` on a ``.pt`` checkpoint;
* ``onnx``: :class:`fers.enhance.onnx_backend.OnnxEnhancer` on the two ``.onnx`` files (no torch).

File locations: :mod:`fers.enhance.paths`; exporting: :mod:`fers.export` (not imported at
run time, except through :func:`fers.enhance.first_use.export_on_first_use`).
"""

from __future__ import annotations

from pathlib import Path

from fers.errors import FersError, FersInputError, FersModelError

BACKENDS = ("auto", "torch", "onnx")
_ENHANCERS: dict = {}


def resolve_backend(backend: str, weights=None) -> str:
    """``auto`` -> ``onnx`` when ONNX Runtime is installed and shipped ONNX files are there (the
    inference default: no torch import, faster cold start), else ``torch`` when PyTorch is installed,
    else ``onnx`` (which then says what is missing); with ``weights`` (a user's ``.pt`` checkpoint)
    ``auto`` is ``torch`` when installed (the checkpoint runs as it is, nothing is exported). Other
    names are checked and returned."""
    if backend not in BACKENDS:
        raise FersInputError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    import importlib.util

    from fers.enhance.paths import shipped_onnx_dir

    has_torch = importlib.util.find_spec("torch") is not None
    if weights and has_torch:
        return "torch"
    if importlib.util.find_spec("onnxruntime") is not None and any(shipped_onnx_dir().glob("fers_b*_spe.onnx")):
        return "onnx"
    return "torch" if has_torch else "onnx"


class ModelUnavailable(FersModelError):
    """No trained enhancer for this band count / backend (weights or backend module missing)."""


def make_enhancer(n_bands: int, backend: str = "torch", weights=None, build_missing: bool = False):
    """The enhancer for ``n_bands`` (cached per ``(n_bands, backend, weights)``).

    ``weights``: a checkpoint ``.pt`` to use instead of the shipped one (its band count must be
    ``n_bands``). ``onnx`` uses the shipped ONNX files (or the user cache); with ``build_missing``, or
    with ``weights``, missing or outdated ONNX files are first exported into the user cache (needs
    PyTorch). Raises :class:`ModelUnavailable` when the backend or the files are missing.
    """
    backend = resolve_backend(backend, weights)
    key = (int(n_bands), backend, str(weights) if weights else None)
    if key in _ENHANCERS:
        return _ENHANCERS[key]
    from fers.enhance.paths import find_onnx, shipped_checkpoint

    ckpt = Path(weights) if weights else shipped_checkpoint(n_bands)
    try:
        if backend == "torch":
            from fers.enhance.torch_backend import TorchEnhancer

            paths = [ckpt]
            factory = lambda: TorchEnhancer(paths[0])  # noqa: E731
        else:
            from fers.enhance.onnx_backend import OnnxEnhancer

            if weights or build_missing:
                from fers.enhance.first_use import export_on_first_use

                try:
                    paths = list(export_on_first_use(n_bands, ckpt))
                except FersError as e:
                    raise ModelUnavailable(str(e)) from None
            else:
                paths = list(find_onnx(n_bands))
            factory = lambda: OnnxEnhancer(*paths)  # noqa: E731
    except ImportError as e:
        raise ModelUnavailable(f"{backend} backend not available ({e})") from None
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise ModelUnavailable(f"no {backend} model for {n_bands} bands (missing {', '.join(missing)})")
    try:
        enh = factory()
    except FersInputError as e:  # a broken or mismatched model file
        raise FersModelError(str(e)) from None
    except (ImportError, OSError, RuntimeError, ValueError, KeyError) as e:
        raise ModelUnavailable(f"cannot load the {backend} model for {n_bands} bands: {type(e).__name__}: {e}"
                               ) from None
    if int(getattr(enh, "n_bands", n_bands)) != int(n_bands):
        raise ModelUnavailable(f"{backend} model file for {n_bands} bands has {enh.n_bands} bands")
    _ENHANCERS[key] = enh
    return enh


def model_available(n_bands: int, backend: str, weights=None) -> bool:
    """Whether :func:`make_enhancer` will find a model for ``n_bands`` (a given checkpoint, one already
    loaded, or the shipped files of the resolved ``backend``), without loading it."""
    from fers.enhance.paths import find_onnx, shipped_checkpoint

    if weights or (int(n_bands), backend, None) in _ENHANCERS:
        return True
    if backend == "torch":
        return shipped_checkpoint(n_bands).is_file()
    return all(p.is_file() for p in find_onnx(n_bands))

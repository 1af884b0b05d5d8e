"""Export the two FENs (paper eq. 4 and 8) of a checkpoint to ONNX files with dynamic K, H, W.

Each file maps ``cube (K, N, H, W)`` float32 normalised cube -> ``features (K, N, H, W)`` float32
and carries everything an embedding tool needs in ``metadata_props`` (keys ``fers.*``: band count,
band adapter, normalisation, layouts, method recipe, default fusion, training record, checkpoint
hash). Exporter: ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript), opset
:data:`OPSET`; the legacy TorchScript exporter is available as ``exporter="torchscript"``.

:func:`ensure_onnx` is the explicit "build if missing" step: it exports a checkpoint whose ONNX
files are missing or outdated into the user cache (never into the repository). Needs PyTorch; the
runtime side (:mod:`fers.enhance.onnx_backend`) imports neither torch nor this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import threading
import warnings
from pathlib import Path

import torch

from fers._version import __version__
from fers.bands import ADAPTER_RULE, ADAPTER_RULES, DEFAULT_ADAPTER
from fers.enhance.onnx_backend import INPUT_NAME, META_PREFIX, OUTPUT_NAME
from fers.enhance.paths import onnx_cache_dir, onnx_filenames, shipped_checkpoint, shipped_onnx_dir
from fers.errors import FersInputError, FersModelError
from fers.methods import BY_NAME, DEFAULT_FUSION, METHODS, paper_default_fusion
from fers.normalize import NORMALIZATION

log = logging.getLogger(__name__)

OPSET = 18
EXPORTERS = ("dynamo", "torchscript")
EXAMPLE_SHAPE = (2, 48, 56)  # (K, H, W) of the tracing input: K > 1 and H != W keep all axes symbolic
DIM_NAMES = ("batch", "height", "width")

METHOD_RECIPES = {m: BY_NAME[m].recipe for m in METHODS}


def file_sha256(path) -> str:
    """Hex SHA-256 of a file (identifies the checkpoint an ONNX file was exported from)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _find_key(obj, names) -> list:
    """Scalar values (and items of lists of scalars) stored under any of ``names`` anywhere in a
    nested dict/list, as strings."""
    found = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in names and isinstance(v, (str, int, float)):
                found.append(str(v))
            elif k in names and isinstance(v, (list, tuple)):
                found += [str(i) for i in v if isinstance(i, (str, int, float))]
            elif k in names and isinstance(v, dict):  # e.g. train_scenes per sensor
                found += [str(i) for lst in v.values() if isinstance(lst, (list, tuple)) for i in lst]
            found += _find_key(v, names)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            found += _find_key(v, names)
    return found


def fen_metadata(config: dict, branch: str, checkpoint=None, sha256: str | None = None) -> dict:
    """``metadata_props`` (str -> str) for one branch (``"spe"`` or ``"spa"``) of a checkpoint config."""
    n = int(config["n_bands"])
    names = onnx_filenames(n)
    other = names[1] if branch == "spe" else names[0]
    training = config.get("training", {})
    data = sorted(set(_find_key(training, ("training_data",)) or _find_key(training, ("train_scenes",))
                      or _find_key(training, ("data", "datasets"))))
    meta = {
        "n_bands": n,
        "branch": branch,
        "network": "Spe-FEN (spectral, eq. 4)" if branch == "spe" else "Spa-FEN (spatial, eq. 5-8)",
        "companion_file": other,
        "input": f"{INPUT_NAME}: (batch, {n}, height, width) float32 normalised cube (see normalization), "
        f"bands adapted by band_adapter, height and width >= 8",
        "output": f"{OUTPUT_NAME}: (batch, {n}, height, width) float32 features "
        f"F_{branch}, added to the normalised cube before RX",
        "band_adapter": ADAPTER_RULES[DEFAULT_ADAPTER],
        "band_adapter_name": DEFAULT_ADAPTER,
        "training_band_adapter": config.get("band_adapter", ADAPTER_RULE),
        "normalization": config.get("normalization", NORMALIZATION),
        "methods": METHOD_RECIPES,
        "default_fusion": DEFAULT_FUSION,
        "paper_default_fusion": paper_default_fusion(n),
        "backbone_init": {b: config.get(b, {}).get("backbone_init", "unknown") for b in ("spe", "spa")},
        "training_data": ", ".join(data) if data else "unknown",
        "config": config,
        "version": __version__,
        "torch_version": torch.__version__,
        "source_checkpoint": Path(checkpoint).name if checkpoint else "random init (no checkpoint)",
        "checkpoint_sha256": sha256 or "",
    }
    return {META_PREFIX + k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in meta.items()}


def _rename_dims(model, names=DIM_NAMES) -> None:
    """Give the input's symbolic axes readable names everywhere in the graph (batch/height/width)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    mapping = {dims[i].dim_param: new for i, new in zip((0, 2, 3), names) if dims[i].dim_param}
    if not mapping:
        return
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in mapping) + r")\b")
    for vi in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for d in vi.type.tensor_type.shape.dim:
            if d.dim_param:
                d.dim_param = pattern.sub(lambda m: mapping[m.group(1)], d.dim_param)


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporters' progress prints, deprecation warnings and INFO logging."""
    loggers = [logging.getLogger(n) for n in ("onnx_ir", "onnxscript", "torch.onnx", "torch.export")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def export_fen(module: torch.nn.Module, path, metadata: dict, opset: int = OPSET, exporter: str = "dynamo",
               output_names=(OUTPUT_NAME,)) -> Path:
    """Export ``module`` taking ``cube (K, N, H, W)`` (a FEN: one ``features (K, N, H, W)`` output) to
    ``path`` with dynamic K, H, W, ``metadata`` as ``metadata_props``; checked by ``onnx.checker``
    (full check, with shape inference). Written atomically."""
    import onnx

    if exporter not in EXPORTERS:
        raise FersInputError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    n = int(json.loads(metadata[META_PREFIX + "n_bands"]))
    k, h, w = EXAMPLE_SHAPE
    x = torch.rand(k, n, h, w, generator=torch.Generator().manual_seed(0)) * 0.2 - 0.1
    module = module.eval()
    names = list(output_names)
    with _quiet_exporter(), torch.no_grad():
        if exporter == "dynamo":
            dyn = {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC, 3: torch.export.Dim.DYNAMIC}
            torch.onnx.export(module, (x,), str(tmp), dynamo=True, input_names=[INPUT_NAME],
                              output_names=names, dynamic_shapes=(dyn,), opset_version=opset,
                              external_data=False, optimize=True)
        else:
            axes = {0: DIM_NAMES[0], 2: DIM_NAMES[1], 3: DIM_NAMES[2]}
            out_axes = {o: (axes if o == OUTPUT_NAME else dict(zip((0, 1, 2), DIM_NAMES))) for o in names}
            torch.onnx.export(module, (x,), str(tmp), dynamo=False, input_names=[INPUT_NAME],
                              output_names=names, dynamic_axes={INPUT_NAME: axes, **out_axes},
                              opset_version=opset, do_constant_folding=True)
    model = onnx.load(str(tmp))
    _rename_dims(model)
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    model.doc_string = f"FERS {metadata[META_PREFIX + 'network']}, {n} bands. See metadata_props fers.*"
    onnx.save(model, str(tmp))
    onnx.checker.check_model(str(tmp), full_check=True)
    os.replace(tmp, path)
    return path


def export_fens(spe, spa, config: dict, out_dir, checkpoint=None, opset: int = OPSET,
                exporter: str = "dynamo") -> tuple[Path, Path]:
    """Export both FENs into ``out_dir`` as ``fers_b{N}_spe.onnx`` / ``fers_b{N}_spa.onnx``."""
    sha = file_sha256(checkpoint) if checkpoint else None
    names = onnx_filenames(int(config["n_bands"]))
    out = []
    for module, branch, name in ((spe, "spe", names[0]), (spa, "spa", names[1])):
        meta = fen_metadata(config, branch, checkpoint, sha)
        out.append(export_fen(module, Path(out_dir) / name, meta, opset, exporter))
    return out[0], out[1]


def export_checkpoint(checkpoint, out_dir, opset: int = OPSET, exporter: str = "dynamo") -> tuple[Path, Path]:
    """Load a FERS ``.pt`` (``fers.models.checkpoint.load_fens``) and export both FENs into ``out_dir``."""
    from fers.models.checkpoint import load_fens

    spe, spa, config = load_fens(checkpoint)
    if spa is None:
        raise FersModelError("a Spe-FEN-only checkpoint has no ONNX pair; use the torch backend", checkpoint)
    return export_fens(spe, spa, config, out_dir, checkpoint, opset, exporter)


def default_exporter() -> str:
    """``dynamo`` when onnxscript is installed, else the legacy ``torchscript`` exporter."""
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        return "torchscript"
    return "dynamo"


def exported_sha(path) -> str:
    """``fers.checkpoint_sha256`` stored in an ONNX file ('' when absent or unreadable)."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - unreadable file counts as outdated
        return ""
    return next((p.value for p in model.metadata_props if p.key == META_PREFIX + "checkpoint_sha256"), "")


_UP_TO_DATE: dict = {}
_LOCK = threading.Lock()


def ensure_onnx(n_bands: int, out_dir=None, checkpoint=None) -> tuple[Path, Path]:
    """``(spe_path, spa_path)`` of ONNX files that match the checkpoint (default: the shipped
    ``weights/fers_b{N}.pt``), exporting them first when missing or exported from other weights.

    Existing files are looked for in ``out_dir``, else the shipped ONNX folder and the user cache;
    new files go to ``out_dir``, else the user cache (``fers.enhance.paths.onnx_cache_dir``).
    Raises :class:`FersModelError` when neither the files nor the checkpoint exist.
    """
    with _LOCK:  # one export at a time when app threads ask together
        return _ensure_onnx(n_bands, out_dir, checkpoint)


def _ensure_onnx(n_bands: int, out_dir, checkpoint) -> tuple[Path, Path]:
    ckpt = Path(checkpoint) if checkpoint else shipped_checkpoint(n_bands)
    names = onnx_filenames(n_bands)
    folders = [Path(out_dir)] if out_dir else [shipped_onnx_dir(), onnx_cache_dir()]
    pairs = [(f / names[0], f / names[1]) for f in folders]
    present = [pair for pair in pairs if all(p.is_file() for p in pair)]
    if not ckpt.is_file():
        if present:
            return present[0]
        raise FersModelError(f"no model for {n_bands} bands (checkpoint and ONNX files missing)", ckpt)
    stat = ckpt.stat()
    key = (str(ckpt), stat.st_mtime_ns, stat.st_size)
    if key in _UP_TO_DATE and all(p.is_file() for p in _UP_TO_DATE[key]):
        return _UP_TO_DATE[key]
    sha = file_sha256(ckpt)
    for pair in present:
        if all(exported_sha(p) == sha for p in pair):
            _UP_TO_DATE[key] = pair
            return pair
    folder = Path(out_dir) if out_dir else onnx_cache_dir()
    log.warning("exporting %s to ONNX in %s (first use; takes about a minute)", ckpt.name, folder)
    pair = export_checkpoint(ckpt, folder, exporter=default_exporter())
    _UP_TO_DATE[key] = pair
    return pair

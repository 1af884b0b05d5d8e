"""The one result format: :class:`DetectResult`, its JSON dict and its ``.npz`` file.

The CLI (``detect --json``, ``detect --out``, ``bench``), the app's downloads and its ``/detect`` API
all serialise through :meth:`DetectResult.to_dict` and :meth:`DetectResult.save_npz`. The format is
documented in ``docs/formats.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fers.detectors.registry import DEFAULT_DETECTOR
from fers.errors import FersInputError

NPZ_FORMAT = "fers-maps-v1"


def _round(d: dict | None, digits: int) -> dict:
    return {k: (None if v is None else round(float(v), digits)) for k, v in (d or {}).items()}


@dataclass
class DetectResult:
    """Output of :func:`fers.detect`.

    Attributes
    ----------
    maps : dict
        Method -> ``(H, W)`` float64 score map.
    auc, auc3d : dict or None
        Method -> ROC-AUC / dict of 3-D ROC areas (None without ground truth); ``auc_note`` says why
        they are missing although ground truth was given.
    seconds : dict
        Stage -> wall time (``prepare``, ``model`` (loading the networks), ``enhance``, one entry per
        computed method, a product such as ``fusion_mult`` timing its own step (its factor maps have
        theirs), ``auc``; callers add ``load`` and ``save``); :attr:`total_seconds` is their sum
        (``total`` in :meth:`to_dict`).
    cube_used : numpy.ndarray
        The ``(H, W, N)`` cube the detectors saw (normalised unless ``cube_used_normalized`` is False,
        as on the streamed large-scene path).
    f_spe, f_spa : numpy.ndarray or None
        The enhanced features ``(H, W, N)`` (None when the models did not run or the scene was streamed).
    default_method : str
        The map shown by default.
    masked_pixels : int
        No-data pixels masked (NaN in every map, left out of the AUCs).
    wavelengths_used : numpy.ndarray or None
        ``(K,)`` nm of the bands the detectors saw before adapting (None without wavelengths).
    options : dict
        Every option that changes the maps (:func:`fers.scenes.result_options`), stored in the ``.npz``
        meta (not in :meth:`to_dict`) so that ``batch --resume`` can compare them.
    """

    maps: dict
    auc: dict | None
    auc3d: dict | None
    seconds: dict
    band_adapter: str
    model_bands: int | None
    cube_used: np.ndarray
    notes: list = field(default_factory=list)
    detector: str = DEFAULT_DETECTOR
    backend: str = "torch"
    bands: str = "auto"
    cube_used_normalized: bool = True
    default_method: str = "rx"
    name: str = ""
    shape: tuple = ()
    weights: str = "shipped"
    f_spe: np.ndarray | None = field(default=None, repr=False)
    f_spa: np.ndarray | None = field(default=None, repr=False)
    rx_all_bands_auc: float | None = None
    auc_note: str = ""
    masked_pixels: int = 0
    wavelengths_used: np.ndarray | None = field(default=None, repr=False)
    options: dict = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """The sum of the stages' wall times in :attr:`seconds` (a ``total`` entry there is not counted)."""
        return float(sum(float(v) for k, v in self.seconds.items() if k != "total" and v is not None))

    def to_dict(self, digits: int = 6) -> dict:
        """JSON-ready summary (no arrays): what ``--json``, ``bench``, the app and its API return."""
        d = {
            "name": self.name, "shape": [int(s) for s in self.shape], "bands": self.bands,
            "band_adapter": self.band_adapter, "model_bands": self.model_bands, "backend": self.backend,
            "detector": self.detector, "weights": self.weights, "methods": list(self.maps),
            "default_method": self.default_method, "auc": _round(self.auc, digits),
            "seconds": {**_round({k: v for k, v in self.seconds.items() if k != "total"}, 4),
                        "total": round(self.total_seconds, 4)},
            "notes": [n.to_dict() for n in self.notes],
            "masked_pixels": int(self.masked_pixels),
        }
        if self.wavelengths_used is not None and len(self.wavelengths_used):
            wl = np.asarray(self.wavelengths_used, dtype=np.float64)
            d["wavelengths_used_nm"] = {"count": int(wl.size), "min": round(float(wl.min()), 3),
                                        "max": round(float(wl.max()), 3)}
        if self.auc3d:
            d["auc3d"] = {m: _round(v, digits) for m, v in self.auc3d.items()}
        if self.auc_note:
            d["auc_note"] = self.auc_note
        if self.rx_all_bands_auc is not None:
            d["rx_all_bands_auc"] = round(float(self.rx_all_bands_auc), digits)
        return d

    def save_npz(self, path, gt=None) -> Path:
        """Write ``<method>`` maps (float64), ``gt`` (bool, when given) and ``meta`` (the JSON of
        :meth:`to_dict` plus ``format`` and, when set, ``options``) to a compressed ``.npz``; ``.npz`` is
        appended when missing.
        Returns the path written."""
        path = Path(path)
        if path.is_dir():
            raise FersInputError("is a directory; give a file name ending in .npz", path)
        if path.suffix.lower() != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays = {m: np.asarray(s, dtype=np.float64) for m, s in self.maps.items()}
        if gt is not None:
            arrays["gt"] = np.asarray(gt, dtype=bool)
        meta = {"format": NPZ_FORMAT, **self.to_dict()}
        if self.options:  # every option that changes the maps: batch --resume compares them
            meta["options"] = dict(self.options)
        try:
            np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
        except OSError as e:
            raise FersInputError(f"cannot write output: {e.strerror or e}", path) from None
        return path


def load_npz(path) -> tuple[dict, dict]:
    """``(maps, meta)`` of a file written by :meth:`DetectResult.save_npz` (``gt`` is among the maps)."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"])) if "meta" in z else {}
        return {k: z[k] for k in z.files if k != "meta"}, meta

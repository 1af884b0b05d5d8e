"""What the page's Detect button sends: its controls as one :class:`PageRequest`, and the band spec
and :class:`fers.pipeline.DetectOptions` they stand for. The layout wires the controls in the order
of :class:`PageRequest`'s fields, so the order has this one home.
"""

import re
from dataclasses import dataclass, fields
from typing import Any

from fers.detectors import get, names
from fers.errors import FersInputError
from fers.pipeline import DetectOptions

BAND_MODES = ("model bands from start", "band range", "all bands (RX only)", "auto (measured default)",
              "wavelength range (nm)")
DEFAULT_BAND_MODE = BAND_MODES[3]  # bands "auto": RX on every band, the models on the adapted cube
WAVELENGTH_MODE = BAND_MODES[4]
DEFAULT_WAVELENGTHS = "400-2500nm"  # the box's text until an upload with wavelengths fills in its own span
# the detectors the page offers: those that run in seconds (the AE trains on each scene: minutes on a shared server)
DETECTORS = tuple((get(n).title, n) for n in names() if not get(n).needs_torch)


@dataclass(frozen=True)
class PageRequest:
    """The page's controls as the Detect button sends them (the layout's component names)."""

    cube_files: Any
    cube_key: str
    gt_file: Any
    gt_key: str
    band_mode: str
    model_n: Any
    band_start: Any
    band_range: str
    fusion: str
    backend: str
    detector: str
    windows: str
    weights_file: Any = None
    weights_text: str = ""
    band_nm: str = ""
    keep_bad: bool = False

    @classmethod
    def names(cls) -> tuple:
        return tuple(f.name for f in fields(cls))

    def bands(self) -> str:
        return band_spec_from_controls(self.band_mode, self.model_n, self.band_start, self.band_range, self.band_nm)

    def options(self) -> DetectOptions:
        """The detection options (the weights are added once they have passed the gate)."""
        return DetectOptions.make(bands=self.bands(), backend=self.backend, detector=self.detector,
                                  windows=self.windows or None, keep_bad_bands=bool(self.keep_bad)).checked()


def band_spec_from_controls(mode: str, model_n, start, band_range: str, band_nm: str = "") -> str:
    """The ``bands`` string for :func:`fers.pipeline.detect` from the band controls. The wavelength
    mode passes its box on (the grammar of :mod:`fers.bands`; a range without any unit is read in nm)."""
    if mode == BAND_MODES[3]:
        return "auto"
    if mode == WAVELENGTH_MODE:
        text = " ".join((band_nm or "").split())
        if not text:
            raise FersInputError(f"wavelength range is empty: write e.g. {DEFAULT_WAVELENGTHS} or "
                                 "400-1340nm,1450-1800nm")
        from fers.bands import parse_band_spec

        text = text if re.search(r"[^\d\s.,\-]", text) else text + "nm"
        if parse_band_spec(text).kind != "nm":  # grammar errors: the library's one line
            raise FersInputError(f"wavelength range {text!r} is not a wavelength range: write e.g. "
                                 f"{DEFAULT_WAVELENGTHS} (or pick the band range mode for band numbers)")
        return text
    if mode == BAND_MODES[2]:
        return "all"
    if mode == BAND_MODES[1]:
        text = (band_range or "").strip()
        if ":" not in text:
            raise FersInputError(f"band range {text!r}: write START:STOP, e.g. 10:110")
        return text
    try:
        n, s = int(model_n), int(start or 0)
    except (TypeError, ValueError):
        raise FersInputError(f"model bands {model_n!r} / start {start!r} must be whole numbers") from None
    if s < 0:
        raise FersInputError(f"start band {s} must be >= 0")
    return str(n) if s == 0 else f"{s}:{s + n}"

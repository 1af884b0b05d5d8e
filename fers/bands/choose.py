"""Band choice for one detection: the one place a band spec meets a scene.

:func:`choose_bands` resolves a parsed spec against the scene -- its bands that hold only no-data,
its bad-band flags and wavelengths (:func:`fers.bands.select.resolve_bands`) -- and returns the
resolved spec with one :class:`fers.notes.Note` per change. :func:`take_chosen` then takes those
bands out of the cube ``(H, W, B)`` so that no-data is decided on the bands used; the adapter
(:func:`fers.bands.adapt.prepare_bands`) fits the result to the model. The pipeline's plan step
calls the first, its prepare step the second.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fers.bands.select import BandView, resolve_bands, take_bands
from fers.bands.spec import BandSpec
from fers.errors import FersInputError
from fers.nodata import describe, empty_bands, release_for


def choose_bands(cube, spec: BandSpec, wavelengths=None, bad_bands=None, keep_bad: bool = False,
                 nodata=None) -> tuple[BandSpec, list]:
    """``(spec, notes)``: ``spec`` resolved for ``cube (H, W, B)`` with ``wavelengths (B,)`` nm and
    ``bad_bands (B,)`` bool (either may be None). A band that is no-data in every pixel is dropped
    (also with ``keep_bad``); a cube whose every band is is refused."""
    empty = empty_bands(cube, nodata, release=release_for(cube))
    if empty.all():
        raise FersInputError(f"every pixel is no-data ({describe(nodata)}); there is nothing to detect")
    empty = empty if empty.any() else None
    if wavelengths is None and bad_bands is None and empty is None and spec.kind != "nm":
        return spec, []
    return resolve_bands(spec, cube.shape[2], wavelengths, bad_bands, keep_bad, empty)


def take_chosen(cube, spec: BandSpec, wavelengths, lazy: bool):
    """``(cube, spec, wavelengths of the bands used or None)``: the bands a resolved ``spec`` uses
    taken out -- bad bands, and the bands of a range or list. ``lazy``: a memory map the pipeline
    streams stays lazy (:class:`fers.bands.select.BandView`). A range or list becomes the whole
    ``0:`` range of the taken cube, reported as the spec it was."""
    idx = np.arange(cube.shape[2])
    if spec.keep is not None:
        cube, idx = take_bands(cube, spec.keep, lazy=lazy), np.asarray(spec.keep)
        spec = replace(spec, keep=None)
    sel = _selected(spec, cube.shape[2])
    if sel is not None:
        if sel == sorted(sel):
            cube = take_bands(cube, sel, lazy=lazy)
        else:
            cube = BandView(cube, sel) if lazy else np.asarray(cube[..., sel])
        idx = idx[sel]
        spec = BandSpec("range", start=0, stop=None, label=spec.describe())
    wl = None if wavelengths is None else np.asarray(wavelengths, dtype=np.float64).ravel()[idx]
    return cube, spec, wl


def _selected(spec: BandSpec, b: int) -> list | None:
    """The band indices of a range or list spec on a ``b``-band cube (None for other kinds, or fewer than 2)."""
    sel = None
    if spec.kind == "list" and spec.indices and max(spec.indices) < b:
        sel = list(spec.indices)
    elif spec.kind == "range" and spec.start < b:
        sel = list(range(spec.start, b if spec.stop is None else min(spec.stop, b)))
    return sel if sel is not None and len(sel) >= 2 else None

"""Output files that are whole or absent: write to a temporary name in the target folder, close,
check, rename.

:class:`Staging` hands out short temporary names (``.fers-<random>.tmp<ext>``: short, so a long
target name still fits the file system's name limit), and on :meth:`Staging.commit` renames every
staged file onto its target with :func:`os.replace` (atomic within a folder). Any failure -- a
writer's error, a check that finds a truncated file, a rename that fails -- removes every
temporary file and every target already renamed in this commit, and becomes one
:class:`~fers.errors.FersResourceError` line: nothing half-written is left behind.

The checks (:func:`check_written`) re-open each file the way a user would: a ``.npz`` must pass
its zip CRCs and hold ``meta``; a GeoTIFF must open in GDAL with the expected band count and
every band must decode; a GeoJSON must parse as a FeatureCollection. GDAL reports some write
errors (a full disk) only on stderr, so reading back is the only reliable test.
"""

from __future__ import annotations

import json
import os
import uuid
import zipfile
from pathlib import Path

import numpy as np

from fers.errors import FersResourceError

TEMP_PREFIX = ".fers-"


def temp_name(target: Path, suffix: str = "") -> Path:
    """A fresh hidden name in ``target``'s folder: ``.fers-<12 hex>.tmp<suffix>`` (independent of
    the target name's length, so :func:`os.replace` stays in one folder and within NAME_MAX)."""
    return target.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}.tmp{suffix}")


def name_too_long(path: Path) -> str | None:
    """Why ``path``'s file name cannot be created in its folder (longer than the file system's
    NAME_MAX), or None."""
    parent = path.parent if str(path.parent) else Path(".")
    try:
        limit = os.pathconf(parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    n = len(os.fsencode(path.name))
    return f"file name too long ({n} bytes; the file system allows {limit})" if n > limit else None


def check_written(kind: str, path: Path, target: Path, bands: int | None = None) -> None:
    """Re-open a just-written (temporary) file ``path``; FersResourceError naming ``target`` when it
    is not whole. ``kind``: ``npz``, ``geotiff`` (``bands``: the band count expected) or ``geojson``."""
    try:
        if kind == "npz":
            with zipfile.ZipFile(path) as z:
                if z.testzip() is not None or "meta.npy" not in z.namelist():
                    raise ValueError("a member is corrupt or 'meta' is missing")
        elif kind == "geotiff":
            import warnings

            import rasterio

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a plain TIFF is not georeferenced on purpose
                ds = rasterio.open(path)
            with ds:
                if bands is not None and ds.count != bands:
                    raise ValueError(f"{ds.count} bands, expected {bands}")
                for i in range(1, ds.count + 1):
                    np.asarray(ds.read(i))
        else:
            with open(path, encoding="utf-8") as f:
                fc = json.load(f)
            if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
                raise ValueError("not a GeoJSON FeatureCollection")
    except Exception as e:  # noqa: BLE001 - whatever the reader says, the file is not whole
        msg = " ".join(str(e).replace(str(path), target.name).replace(path.name, target.name).split())[:200]
        raise FersResourceError(f"the written file does not read back ({type(e).__name__}: {msg}); nothing was kept",
                             target) from None


class Staging:
    """Temporary files for a set of targets, renamed all together by :meth:`commit` or removed
    by :meth:`discard` (use as a context manager: an exception discards)."""

    def __init__(self):
        self.pairs: list[tuple[Path, Path]] = []  # (temporary, target)

    def stage(self, target: Path, suffix: str = "") -> Path:
        tmp = temp_name(Path(target), suffix)
        self.pairs.append((tmp, Path(target)))
        return tmp

    def commit(self) -> None:
        done: list[Path] = []
        try:
            for tmp, target in self.pairs:
                os.replace(tmp, target)
                done.append(target)
        except OSError as e:
            for t in done:
                t.unlink(missing_ok=True)
            self.discard()
            raise FersResourceError(f"cannot rename the finished output into place: {e.strerror or e}; "
                                 "nothing was kept", target) from None
        self.pairs = []

    def discard(self) -> None:
        for tmp, _ in self.pairs:
            for p in (tmp, tmp.with_name(tmp.name + ".aux.xml")):
                try:
                    p.unlink(missing_ok=True)
                except OSError:
                    pass
        self.pairs = []

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self.discard()
        return False

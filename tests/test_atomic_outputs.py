"""Issue 18 items 8-10: outputs are whole or absent. Every ``--out`` file is written to a temporary
name in its folder, read back and renamed; a writer that fails (patched here: a full disk for the
.npz, GDAL leaving a truncated GeoTIFF with its error only on stderr) gives exit 2, one line, and
no file at all. The same file named twice (``out/dup`` and ``out/dup.npz``) and names too long for
the file system are refused before the work; a long name that fits works (temporary names are
short)."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

pytest.importorskip("rasterio")

from fers import outputs  # noqa: E402
from fers.cli import main  # noqa: E402
from fers.result import DetectResult  # noqa: E402


@pytest.fixture
def cube_file(tmp_path):
    rng = np.random.default_rng(0)
    p = tmp_path / "in" / "c.npy"
    p.parent.mkdir()
    np.save(p, rng.random((12, 10, 6)).astype(np.float32))
    (tmp_path / "out").mkdir()
    return p


def _run(capsys, *args):
    capsys.readouterr()
    code = main(["detect", *map(str, args), "--bands", "all", "--backend", "onnx"])
    _, err = capsys.readouterr()
    return code, err


def _left(folder):
    return sorted(p.name for p in folder.iterdir())


def test_npz_write_error_exits_4_and_leaves_nothing(tmp_path, capsys, cube_file, monkeypatch):
    def full_disk(self, path, gt=None):
        with open(path, "wb") as f:
            f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(DetectResult, "save_npz", full_disk)
    out = tmp_path / "out"
    code, err = _run(capsys, cube_file, "--out", out / "maps.tif", "--out", out / "maps.npz")
    assert code == 4  # FersResourceError: the disk is full
    line = err.strip().splitlines()[-1]
    assert line.startswith("fers: error: ") and "No space left on device" in line and "maps.npz" in line
    assert _left(out) == []


def test_geotiff_that_does_not_read_back_is_not_kept(tmp_path, capsys, cube_file, monkeypatch):
    real = outputs._write_tiff

    def truncating(result, scene, path, rule, ortho):  # GDAL wrote half a file and said so on stderr only
        w = real(result, scene, path, rule, ortho)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        return w

    monkeypatch.setattr(outputs, "_write_tiff", truncating)
    out = tmp_path / "out"
    code, err = _run(capsys, cube_file, "--out", out / "maps.npz", "--out", out / "maps.tif",
                     "--out", out / "objects.geojson")
    assert code == 4  # FersResourceError: the written file is broken
    assert "does not read back" in err and "maps.tif" in err
    assert _left(out) == []  # the .npz written before it is not kept either
    monkeypatch.setattr(outputs, "_write_tiff", real)
    code, err = _run(capsys, cube_file, "--out", out / "maps.npz", "--out", out / "maps.tif",
                     "--out", out / "objects.geojson")
    assert code == 0, err
    assert _left(out) == ["maps.npz", "maps.tif", "objects.geojson"]


def test_same_output_twice_is_refused(tmp_path, capsys, cube_file):
    out = tmp_path / "out"
    code, err = _run(capsys, cube_file, "--out", out / "dup", "--out", out / "dup.npz")
    assert code == 2 and "given twice" in err
    assert _left(out) == []


def test_long_output_names(tmp_path, capsys, cube_file):
    out = tmp_path / "out"
    long = "m" * 245
    code, err = _run(capsys, cube_file, "--out", out / f"{long}.tif", "--out", out / f"{long[:240]}.geojson")
    assert code == 0, err
    assert _left(out) == sorted([f"{long}.tif", f"{long[:240]}.geojson"])
    code, err = _run(capsys, cube_file, "--out", out / ("n" * 260 + ".tif"))
    assert code == 2 and "file name too long" in err and "Traceback" not in err

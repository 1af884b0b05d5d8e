"""Benchmark: a full-size EMIT L2A granule, end to end on the command line.

Usage:
    python tests/benchmarks/bench_emit_granule.py [--rows 1280] [--cols 1242] [--bands 285]
                                                  [--workdir DIR] [--keep] [-- extra fers detect args]

1. Writes a seeded EMIT-like NetCDF4 (``tests/io/make_products.py`` layout: ``reflectance`` with
   ``_FillValue`` -9999 on a 20-pixel swath edge, ``sensor_band_parameters`` with EMIT-like
   wavelengths 381-2493 nm and ``good_wavelengths`` 0 in the water-vapour windows, a ``location``
   GLT) row block by row block -- never whole in RAM. Spectra are mixtures of a few smooth
   endmembers plus noise, with 20 small implanted targets.
2. Runs ``python -m fers detect GRANULE.nc --out maps.tif --out objects.geojson --json`` in a
   child process and prints its wall time, peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), the
   bands used, the GeoTIFF's size/CRS/transform/COG layout and the number of objects.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _repo import REPO  # noqa: E402


def _products():
    """``tests/io/make_products.py`` (the EMIT layout the reader tests use), loaded from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_products", REPO / "tests" / "io" / "make_products.py")
    mod = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # its dataclasses look it up there
    spec.loader.exec_module(mod)
    return mod


mp = _products()
EMIT_FILL, EMIT_GEOTRANSFORM, emit_glt = mp.EMIT_FILL, mp.EMIT_GEOTRANSFORM, mp.emit_glt


def write_granule(path: Path, rows: int, cols: int, bands: int, seed: int = 0, chunk: int = 64) -> None:
    import netCDF4
    from rasterio.crs import CRS

    rng = np.random.default_rng(seed)
    wl = np.linspace(381.0, 2493.0, bands)
    good = ~(((wl >= 1320) & (wl <= 1450)) | ((wl >= 1770) & (wl <= 1970)))
    x = (wl - 350.0) / 2200.0
    ends = np.stack([0.1 + 0.3 * x, 0.3 + 0.2 * np.sin(3 * x), 0.2 + 0.35 * x**2, 0.05 + 0.1 * np.cos(5 * x)])
    ends[:, ~good] *= 0.05  # absorbed: near zero in the water-vapour windows
    m = min(30, rows // 4, cols // 4)  # keep targets off the 20-column fill edge and the borders
    targets = [(int(rng.integers(m, rows - m)), int(rng.integers(max(m, 21), cols - m))) for _ in range(20)]
    t_spec = (0.4 + 0.2 * np.sin(9 * x)) * np.where(good, 1.0, 0.05)
    glt_x, glt_y = emit_glt(rows, cols)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.title = "EMIT L2A Estimated Surface Reflectance 60 m V001 (synthetic benchmark granule)"
        nc.spatial_ref = CRS.from_epsg(4326).to_wkt()
        nc.geotransform = np.array(EMIT_GEOTRANSFORM, dtype=np.float64)
        for name, n in (("downtrack", rows), ("crosstrack", cols), ("bands", bands),
                        ("ortho_y", glt_x.shape[0]), ("ortho_x", glt_x.shape[1])):
            nc.createDimension(name, n)
        var = nc.createVariable("reflectance", "f4", ("downtrack", "crosstrack", "bands"), fill_value=EMIT_FILL,
                                chunksizes=(chunk, cols, bands))
        for r0 in range(0, rows, chunk):
            r1 = min(rows, r0 + chunk)
            mix = rng.dirichlet(np.ones(4), size=(r1 - r0, cols)).astype(np.float32)
            blk = mix @ ends.astype(np.float32) + rng.normal(0, 0.003, (r1 - r0, cols, bands)).astype(np.float32)
            for tr, tc in targets:
                if r0 <= tr < r1:
                    blk[tr - r0, tc : tc + 2] = 0.6 * blk[tr - r0, tc : tc + 2] + 0.4 * t_spec
            blk[:, :20] = EMIT_FILL  # the swath's no-data edge
            var[r0:r1] = blk
        sbp = nc.createGroup("sensor_band_parameters")
        for key, values, dtype in (("wavelengths", wl, "f4"), ("fwhm", np.full(bands, 8.5), "f4"),
                                   ("good_wavelengths", good.astype(np.int32), "i4")):
            sbp.createVariable(key, dtype, ("bands",))[:] = values
        loc = nc.createGroup("location")
        loc.createVariable("glt_x", "i4", ("ortho_y", "ortho_x"))[:] = glt_x
        loc.createVariable("glt_y", "i4", ("ortho_y", "ortho_x"))[:] = glt_y


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1280)
    ap.add_argument("--cols", type=int, default=1242)
    ap.add_argument("--bands", type=int, default=285)
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("extra", nargs="*", help="extra fers detect arguments (after --)")
    a = ap.parse_args(argv)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="fers-emit-"))
    work.mkdir(parents=True, exist_ok=True)
    nc = work / "EMIT_L2A_RFL_001_20230316T045133_2307503_005.nc"
    t = time.perf_counter()
    write_granule(nc, a.rows, a.cols, a.bands)
    print(f"granule {a.rows} x {a.cols} x {a.bands}: {nc.stat().st_size / 2**30:.2f} GiB written in "
          f"{time.perf_counter() - t:.1f} s")
    cmd = [sys.executable, "-m", "fers", "detect", str(nc), "--out", str(work / "maps.tif"), "--out",
           str(work / "objects.geojson"), "--json", *a.extra]
    t = time.perf_counter()
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print("command:", " ".join(["python -m fers detect GRANULE.nc --out maps.tif --out objects.geojson --json",
                                *a.extra]))
    if run.returncode != 0:
        print(f"exit {run.returncode}: {run.stderr.strip().splitlines()[-1]}")
        return run.returncode
    d = json.loads(run.stdout)
    print(f"wall {wall:.1f} s, peak RSS {peak:.2f} GiB; bands used {d.get('wavelengths_used_nm')}, "
          f"masked pixels {d['masked_pixels']}, methods {d['methods']}")
    print("seconds:", {k: round(v, 1) for k, v in d["seconds"].items()})
    print("notes:", d["notes"])
    import rasterio

    with rasterio.open(work / "maps.tif") as ds:
        layout = ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT")
        print(f"maps.tif: {(work / 'maps.tif').stat().st_size / 2**20:.1f} MiB, {ds.count} bands, {ds.shape}, "
              f"{ds.crs.to_string()}, layout {layout}, overviews {ds.overviews(1)}")
    fc = json.loads((work / "objects.geojson").read_text())
    print(f"objects.geojson: {len(fc['features'])} objects ({fc['properties'].get('objects_found')} found)")
    if not a.keep:
        for p in work.iterdir():
            p.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

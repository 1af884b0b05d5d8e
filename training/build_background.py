"""Cut target-free background patches into the HAD100 layout (training data for both stages).

Sources: ``<shared>/data/background/*.npy`` (unlabelled cubes; the ``.wavelengths.npy`` and
``.valid.npy`` sidecars are read as such, never as cubes) and the ABU scenes marked "background
source" in the data README, using only windows without any ``map == 1`` pixel (within ``--margin``
px) and, where a ``.valid.npy`` mask exists, only fully valid windows. The six benchmark scenes
are refused by name. The sensor of each source is the prefix of its file name (``abu-*`` is AVIRIS).

Output (``--out``, default the git-ignored ``runs/had100_bg``):
``OUT/HAD100Dataset/train/<sensor>/<scene>__r<row>_c<col>.npy`` and, for the held-out scenes and
the held-out sensors, ``OUT/HAD100Dataset/val/<sensor>/...`` (``val/`` is our addition; a real
HAD100 folder has none and the training scripts then hold out scenes themselves).
Patches are raw ``(S, S, B)`` float32 with all source bands; band adaptation and normalisation
happen at load time (as at inference). A ``manifest.json`` records sources and counts.

    python -m training.build_background [--shared ../shared] [--out runs/had100_bg]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.io

from training.config import RUNS_DIR

BENCHMARK_SCENES = ("abu-airport-1", "abu-airport-2", "abu-airport-3", "abu-airport-4", "abu-urban-3",
                    "abu-beach-4-crop100")
ABU_BACKGROUND = ("abu-beach-1", "abu-beach-2", "abu-beach-3", "abu-urban-1", "abu-urban-2", "abu-urban-4",
                  "abu-urban-5")
DEFAULT_HOLDOUT = ("abu-beach-3", "abu-urban-1")
# a whole sensor the models never see in training: the held-out-sensor validation set
DEFAULT_HOLDOUT_SENSORS = ("samson",)
SIDECARS = (".wavelengths.npy", ".valid.npy")
REPO = Path(__file__).resolve().parents[1]


def refuse_benchmark(name: str) -> None:
    """Raise ``SystemExit`` when ``name`` (a file stem) is one of the six benchmark scenes."""
    stem = Path(name).name.split(".")[0]
    if any(stem == b or stem.startswith(b + "_") for b in BENCHMARK_SCENES):
        raise SystemExit(f"{name}: benchmark scene refused (never used for training or selection)")


def sensor_of(path: Path) -> str:
    """Sensor name of a source file: the prefix before the first ``-`` (``abu`` scenes are AVIRIS)."""
    prefix = Path(path).name.split("-", 1)[0].lower()
    return "aviris" if prefix == "abu" else prefix


def load_source(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """``(cube (H, W, B) float32, excluded pixels (H, W) bool | None)`` of one source file: the ABU
    anomaly map, or the complement of a ``.valid.npy`` sidecar."""
    refuse_benchmark(path.name)
    if path.suffix == ".npy":
        cube = np.load(path, allow_pickle=False).astype(np.float32)
        valid = path.with_name(path.name[: -len(".npy")] + ".valid.npy")
        return cube, (~np.load(valid, allow_pickle=False).astype(bool)) if valid.is_file() else None
    m = scipy.io.loadmat(str(path))
    return np.asarray(m["data"], dtype=np.float32), np.asarray(m["map"]) == 1


def clean_windows(shape, anomaly: np.ndarray | None, size: int, stride: int, margin: int):
    """Top-left corners of ``size`` windows (grid with ``stride``, last row/col flush) with no anomaly."""
    h, w = shape[:2]
    if h < size or w < size:
        return []
    rows = sorted(set(list(range(0, h - size + 1, stride)) + [h - size]))
    cols = sorted(set(list(range(0, w - size + 1, stride)) + [w - size]))
    out = []
    for r in rows:
        for c in cols:
            if anomaly is not None:
                r0, c0 = max(r - margin, 0), max(c - margin, 0)
                if anomaly[r0 : r + size + margin, c0 : c + size + margin].any():
                    continue
            out.append((r, c))
    return out


def sources(shared: Path) -> list[Path]:
    """All allowed source files (background/*.npy without wavelength files, ABU background scenes)."""
    bg = sorted(p for p in (shared / "data" / "background").glob("*.npy") if not p.name.endswith(SIDECARS))
    abu = [shared / "data" / "abu" / f"{n}.mat" for n in ABU_BACKGROUND]
    return bg + [p for p in abu if p.is_file()]


def build(shared: Path, out: Path, size: int = 32, stride: int = 16, margin: int = 2,
          holdout=DEFAULT_HOLDOUT, holdout_sensors=DEFAULT_HOLDOUT_SENSORS) -> dict:
    """Write the patches and ``manifest.json``; returns the manifest dict."""
    root = out / "HAD100Dataset"
    for p in (out.resolve(), root.resolve()):
        if REPO in p.parents or p == REPO:
            raise SystemExit(f"{out}: output must be outside the repository")
    manifest = {"patch_size": size, "stride": stride, "margin": margin, "holdout_scenes": list(holdout),
                "holdout_sensors": list(holdout_sensors), "scenes": {}}
    for src in sources(shared):
        cube, amap = load_source(src)
        name = src.name.split(".")[0]
        sensor = sensor_of(src)
        split = "val" if name in holdout or sensor in holdout_sensors else "train"
        dest = root / split / sensor
        dest.mkdir(parents=True, exist_ok=True)
        wins = clean_windows(cube.shape, amap, size, stride, margin)
        for r, c in wins:
            np.save(dest / f"{name}__r{r:03d}_c{c:03d}.npy", np.ascontiguousarray(cube[r : r + size, c : c + size]))
        manifest["scenes"][name] = {"file": src.name, "sensor": sensor, "shape": list(cube.shape), "split": split,
                                    "patches": len(wins), "anomaly_pixels": int(amap.sum()) if amap is not None else 0}
        print(f"{split:5s} {sensor:7s} {name:40s} {cube.shape} -> {len(wins)} patches")
    for split in ("train", "val"):
        manifest[f"{split}_patches"] = sum(s["patches"] for s in manifest["scenes"].values() if s["split"] == split)
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--out", type=Path, default=RUNS_DIR / "had100_bg")
    ap.add_argument("--size", type=int, default=32, help="patch size (64 leaves only 35 clean ABU/background windows)")
    ap.add_argument("--stride", type=int, default=16)
    ap.add_argument("--margin", type=int, default=2, help="clearance (px) around anomaly pixels")
    ap.add_argument("--holdout", default=",".join(DEFAULT_HOLDOUT), help="comma-separated validation scenes")
    ap.add_argument("--holdout-sensors", default=",".join(DEFAULT_HOLDOUT_SENSORS),
                    help="comma-separated sensors used for validation only")
    a = ap.parse_args(argv)
    holdout = tuple(s for s in a.holdout.split(",") if s)
    for h in holdout:
        refuse_benchmark(h)
    m = build(a.shared, a.out, a.size, a.stride, a.margin, holdout,
              tuple(s for s in a.holdout_sensors.split(",") if s))
    print(f"train patches: {m['train_patches']}, val patches: {m['val_patches']} -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

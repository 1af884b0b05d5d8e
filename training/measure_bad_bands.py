"""Measure the bad-band default (drop water-vapour windows and flagged bands) on background data.

    python -m training.measure_bad_bands [--shared ../shared] [--seeds 6] [--out bad_bands.json]

The only background scenes with wavelengths are ``aviris-unknown-90x90x224`` (full 224-band AVIRIS
range, water-vapour bands included) and ``casi-muufl-51x88x72`` (VNIR only: nothing to drop, a
control). Each gets implanted targets as :mod:`training.select_defaults` does (10-16 targets of
1-3 px, abundance 0.1-0.5, several seeds): spectra of *other* scenes stretched to B bands by band
index. Their values in the water-vapour windows come from unrelated wavelengths, so they give the
targets contrast there that no real material has: a bias towards keeping those bands. (Targets
mixed from the scene's own rarest pixels were tried and dropped: on this scene those pixels are
rare by noise, and mixing averages noise away, so such targets score *below* the background.)

Every view runs through :func:`fers.detect` with ``bands=auto`` twice: with the scene's wavelengths
(bad bands dropped, the default) and with ``keep_bad_bands=True``. Printed: the mean AUC per method
of both, and their difference. Never run on benchmark scenes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fers.io import load_cube
from fers.pipeline import detect
from training.build_background import REPO, load_source, sources
from training.select_defaults import implant

SCENES = ("aviris-unknown-90x90x224", "casi-muufl-51x88x72")


def measure(shared: Path, seeds: int = 6, seed: int = 1234) -> dict:
    """``{scene: {"drop": {method: AUC}, "keep": {...}, "dropped": n}}`` (means over the seeds)."""
    rng = np.random.default_rng(seed)
    donors = [(p.name.split(".")[0], *load_source(p)) for p in sources(shared)]
    out = {}
    for name in SCENES:
        path = shared / "data" / "background" / f"{name}.npy"
        raw, excluded = load_source(path)
        excluded = np.zeros(raw.shape[:2], bool) if excluded is None else excluded
        wl = load_cube(path).wavelengths
        per = {"drop": {}, "keep": {}}
        for _ in range(seeds):
            cube, gt = implant(raw, excluded, name, donors, rng)
            keep = gt.ravel() >= 0
            for how in per:
                res = detect(cube, None, bands="auto", wavelengths=wl, keep_bad_bands=how == "keep")
                if how == "drop":
                    dropped = raw.shape[2] - len(res.wavelengths_used)
                for m, s in res.maps.items():
                    per[how].setdefault(m, []).append(roc_auc_score(gt.ravel()[keep] > 0, s.ravel()[keep]))
        out[name] = {how: {m: float(np.mean(v)) for m, v in d.items()} for how, d in per.items()}
        out[name]["dropped"] = int(dropped)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args(argv)
    res = measure(a.shared, a.seeds)
    for name, r in res.items():
        print(f"{name}: {r['dropped']} bands dropped by default")
        print(f"  {'method':12s} {'drop':>8s} {'keep':>8s} {'diff':>8s}")
        for m in r["drop"]:
            print(f"  {m:12s} {r['drop'][m]:8.4f} {r['keep'][m]:8.4f} {r['drop'][m] - r['keep'][m]:+8.4f}")
    if a.out:
        a.out.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Leave-one-sensor-out validation on small panel scenes, and the default fused map chosen on it.

    python -m training.loso_validate [--shared ../shared] [--runs RUNS] [--bands 100] [--out loso.json]
    python -m training.loso_validate --report $ABU6 $CASI     # the candidates on labelled scenes (report only)

Scenes: :func:`training.panels.panel_scenes` (20 small scenes per sensor, man-made-panel implants)
for AVIRIS, ROSIS, CASI and SAMSON. Models, per left-out sensor S: ``RUNS/loso_S/fers_b<N>.pt`` from
``python -m training.loso`` (a Spa-FEN trained and selected without S; the Spe-FEN is the shipped
untrained head, which saw no sensor). Every scene runs the real pipeline (:func:`fers.detect`, bands
``auto``: plain RX on all native bands, the models on the cube resampled to N). Also run, for
reference only, with the shipped models (bands ``auto``; these saw AVIRIS, ROSIS and CASI in training).

Candidate maps: the method table's RX-family maps plus the reliability-weighted fusions of
:mod:`fers.reliability` (``fusion_rel_top``, ``fusion_rel_rank``). The rule (docs/method.md,
"Defaults"), fixed before the numbers were seen: the groups are the four left-out sensors (mean AUC
over each one's panel scenes, LOSO models) and the four groups of ``training.select_defaults``
(shipped models, adapter ``resample``); among the candidate maps whose worst group is within 0.005 of
plain RX, the highest mean over the groups wins.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from fers import reliability as R
from fers.methods import METHODS
from training.build_background import REPO
from training.config import RUNS_DIR
from training.loso import SENSORS

REL = {f"fusion_rel_{w}": w for w in R.WEIGHTS}
CANDIDATES = tuple(METHODS) + tuple(REL)
MARGIN = 0.005


def with_reliability(maps: dict) -> tuple[dict, dict]:
    """``maps`` plus the reliability fusions, and the branch weights ``{"<weight>_<branch>": w}``."""
    out, ws = dict(maps), {}
    if all(k in maps for k in ("rx", "spatial", "spectral")):
        for name, w in REL.items():
            out[name] = R.reliability_fusion(maps["rx"], maps["spatial"], maps["spectral"], weight=w)
            spa, spe = R.weights(maps["rx"], maps["spatial"], maps["spectral"], weight=w)
            ws[f"{w}_spatial"], ws[f"{w}_spectral"] = spa, spe
    return out, ws


def scene_aucs(cube, gt, weights=None, adapter=None) -> tuple[dict, dict]:
    """``({map: AUC}, {weight: value})`` of one scene ``cube (H, W, B)``, ``gt (H, W)`` int8 (-1 left out)."""
    from fers.pipeline import detect

    kw = {} if adapter is None else {"adapter": adapter}
    res = detect(cube, None, bands="auto", weights=weights, **kw)
    maps, ws = with_reliability(res.maps)
    keep = gt.ravel() >= 0
    y = gt.ravel()[keep] == 1
    return {m: float(roc_auc_score(y, s.ravel()[keep])) for m, s in maps.items()}, ws


def run_panels(shared: Path, runs: Path, bands: int) -> dict:
    """``{"loso": {sensor: [row]}, "shipped": {sensor: [row]}}``; row = name, size, abundance, aucs, weights."""
    from training.panels import panel_scenes

    scenes = panel_scenes(shared)
    out: dict = {"loso": {}, "shipped": {}}
    for sensor in SENSORS:
        ckpt = runs / f"loso_{sensor}" / f"fers_b{bands}.pt"
        for sc in scenes.get(sensor, []):
            for key, w in (("loso", ckpt if ckpt.is_file() else None), ("shipped", None)):
                if key == "loso" and w is None:
                    continue
                aucs, ws = scene_aucs(sc.cube, sc.gt, weights=w)
                out[key].setdefault(sensor, []).append({"name": sc.name, "size": sc.size, "abundance": sc.abundance,
                                                        "aucs": aucs, "weights": ws})
        print(f"{sensor}: {len(scenes.get(sensor, []))} scenes", file=sys.stderr, flush=True)
    return out


def run_issue10_groups(shared: Path) -> dict:
    """``{group: [row]}`` for the held-out scenes of ``training.select_defaults`` (shipped models, adapter resample)."""
    from training.select_defaults import load_groups, validation_scenes

    out: dict = {}
    for g, items in validation_scenes(load_groups(shared)).items():
        for cube, gt in items:
            aucs, ws = scene_aucs(cube, gt, adapter="resample")
            out.setdefault(g, []).append({"aucs": aucs, "weights": ws})
    return out


def group_means(rows_by_group: dict) -> dict:
    """``{group: {map: mean AUC}}``."""
    return {g: {m: float(np.mean([r["aucs"][m] for r in rows])) for m in rows[0]["aucs"]}
            for g, rows in rows_by_group.items() if rows}


def select(groups: dict, candidates=CANDIDATES, margin: float = MARGIN) -> tuple[str | None, dict]:
    """The rule: among ``candidates`` whose worst group (``{group: {map: AUC}}``) is within ``margin``
    of ``rx``, the highest mean over groups. Returns ``(winner or None, {map: (mean, worst vs rx)})``."""
    summary = {}
    for m in candidates:
        if all(m in a for a in groups.values()):
            summary[m] = (float(np.mean([a[m] for a in groups.values()])),
                          float(min(a[m] - a["rx"] for a in groups.values())))
    ok = [m for m, (_, worst) in summary.items() if worst >= -margin]
    return (max(ok, key=lambda m: summary[m][0]) if ok else None), summary


def table(groups: dict, candidates=CANDIDATES) -> str:
    cols = [m for m in candidates if all(m in a for a in groups.values())]
    lines = [f"{'group':22s}" + "".join(f"{m:>16s}" for m in cols)]
    for g, a in groups.items():
        lines.append(f"{g:22s}" + "".join(f"{a[m]:16.4f}" for m in cols))
    win, summ = select(groups, candidates)
    lines.append(f"{'MEAN':22s}" + "".join(f"{summ[m][0]:16.4f}" for m in cols))
    lines.append(f"{'worst group vs rx':22s}" + "".join(f"{summ[m][1]:+16.4f}" for m in cols))
    lines.append(f"rule winner: {win}")
    return "\n".join(lines)


def worst_scenes(rows_by_group: dict, candidates=CANDIDATES) -> dict:
    """``{map: (worst scene's AUC minus plain RX, scene)}`` over every scene of every group."""
    out = {}
    for m in candidates:
        diffs = [(r["aucs"][m] - r["aucs"]["rx"], f"{g}:{r.get('name', i)}")
                 for g, rows in rows_by_group.items() for i, r in enumerate(rows) if m in r["aucs"]]
        if diffs:
            out[m] = min(diffs)
    return out


def markdown(rows_by_group: dict, candidates=CANDIDATES, default: str | None = None) -> str:
    """Markdown table: per group the mean AUC of every map, and per map its worst scene minus plain RX."""
    cols = [m for m in candidates if all(m in rows[0]["aucs"] for rows in rows_by_group.values())]
    means = group_means(rows_by_group)
    lines = ["| group | scenes | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for g, rows in rows_by_group.items():
        lines.append(f"| {g} | {len(rows)} | " + " | ".join(f"{means[g][m]:.4f}" for m in cols) + " |")
    lines.append("| mean | | " + " | ".join(f"{np.mean([a[m] for a in means.values()]):.4f}" for m in cols) + " |")
    lines.append("| worst group vs rx | | " + " | ".join(
        f"{min(a[m] - a['rx'] for a in means.values()):+.4f}" for m in cols) + " |")
    worst = worst_scenes(rows_by_group, cols)
    lines.append("| worst scene vs rx | | " + " | ".join(f"{worst[m][0]:+.4f}" for m in cols) + " |")
    return "\n".join(lines)


def by_abundance(rows_by_group: dict, candidates=CANDIDATES) -> str:
    """Mean AUC per panel abundance and crop size over all groups' scenes (a breakdown, not used by the rule)."""
    rows = [r for rs in rows_by_group.values() for r in rs if "abundance" in r]
    cols = [m for m in candidates if all(m in r["aucs"] for r in rows)]
    keys = sorted({(r["size"] > 40, r["abundance"]) for r in rows})
    lines = ["| crop | abundance | scenes | " + " | ".join(cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for big, a in keys:
        sel = [r for r in rows if (r["size"] > 40) == big and r["abundance"] == a]
        lines.append(f"| {'48-64 px' if big else '32 px'} | {a} | {len(sel)} | "
                     + " | ".join(f"{np.mean([r['aucs'][m] for r in sel]):.4f}" for m in cols) + " |")
    return "\n".join(lines)


def report_scenes(paths: list) -> dict:
    """``{scene: {map: AUC, "w_<weight>_<branch>": reliability weight}}`` of labelled files (e.g. the ABU benchmark and the CASI scene), shipped
    models, bands ``auto``, for *reporting* the candidates there; never used by the rule."""
    from fers.io.cube import load_cube

    out = {}
    for p in paths:
        sc = load_cube(Path(p))
        aucs, ws = scene_aucs(np.asarray(sc.cube, np.float32), np.where(sc.gt, 1, 0).astype(np.int8))
        out[Path(p).name.split(".")[0]] = {**aucs, **{f"w_{k}": v for k, v in ws.items()}}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--runs", type=Path, default=RUNS_DIR)
    ap.add_argument("--bands", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None, help="write every scene's numbers as JSON")
    ap.add_argument("--from-json", type=Path, default=None, help="print the tables of an earlier --out file")
    ap.add_argument("--report", nargs="+", default=None, metavar="FILE",
                    help="only print every candidate's AUC on these labelled scenes (reporting, not selection)")
    a = ap.parse_args(argv)
    os.environ.pop("FERS_WEIGHTS", None)
    if a.report:
        rows = report_scenes(a.report)
        cols = [m for m in CANDIDATES if all(m in r for r in rows.values())]
        cols += sorted(k for k in next(iter(rows.values())) if k.startswith("w_"))  # the branch weights
        print("| scene | " + " | ".join(cols) + " |\n" + "|---" * (len(cols) + 1) + "|")
        for name, r in rows.items():
            print(f"| {name} | " + " | ".join(f"{r[m]:.4f}" for m in cols) + " |")
        abu5 = [r for n, r in rows.items() if n.startswith(("abu-airport", "abu-urban-3"))]
        if len(abu5) == 5:
            print("| ABU-5 mean | " + " | ".join(f"{np.mean([r[m] for r in abu5]):.4f}" for m in cols) + " |")
        return 0
    if a.from_json:
        res = json.loads(a.from_json.read_text())
    else:
        res = run_panels(a.shared, a.runs, a.bands)
        res["issue10"] = run_issue10_groups(a.shared)
        if a.out:
            a.out.write_text(json.dumps(res, indent=1))
    for key in ("loso", "shipped", "issue10"):
        if res.get(key):
            print(f"\n== {key}: mean AUC per group ==")
            print(table(group_means(res[key])))
    rule_groups = {f"loso_{g}": v for g, v in group_means(res["loso"]).items()}
    rule_groups.update(group_means(res["issue10"]))
    print("\n== the rule's groups (LOSO panels + held-out scenes of training.select_defaults) ==")
    print(table(rule_groups))
    print("\n== markdown: LOSO panels ==")
    print(markdown(res["loso"]))
    print("\n== markdown: shipped models on the same panels ==")
    print(markdown(res["shipped"]))
    print("\n== markdown: LOSO panels by abundance and crop size ==")
    print(by_abundance(res["loso"]))
    print("\n== mean reliability weights per left-out sensor (LOSO panels) ==")
    for g, rows in res["loso"].items():
        print(f"{g:8s} " + "  ".join(f"{k} {np.mean([r['weights'][k] for r in rows]):.3f}" for k in sorted(rows[0]["weights"])))
    print("\n== worst single scene vs plain RX (LOSO panels) ==")
    for m, (d, where) in worst_scenes(res["loso"]).items():
        print(f"{m:18s} {d:+.4f}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

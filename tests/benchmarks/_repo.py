"""Put the repository root (and export/) on ``sys.path`` so a benchmark runs as
``python tests/benchmarks/bench_x.py`` from anywhere. Import it first: ``import _repo``."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for _p in (REPO, REPO / "export"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

"""The repository root, for benchmarks run as ``python tests/benchmarks/bench_x.py`` (the package itself
is installed by ``pip install -r requirements.txt``, editable)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

"""Issue 18 items 11-13: ``batch --resume`` compares every option that changes a result (stored in
the output's meta), an ENVI pair matched by a glob is one scene, and a local cluster starts no more
workers than cores (unless asked) with the memory split over the workers actually started. The
scenes run serially through :func:`fers.batch.run_scene` (no cluster needed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("distributed")

from fers import batch  # noqa: E402
from fers.result import load_npz  # noqa: E402
from tests.io import make_products as mp  # noqa: E402


@pytest.fixture
def scene(tmp_path):
    cube = mp.smooth_cube(16, 14, np.linspace(400, 900, 8))
    cube[2, 3] = -9999.0
    p = tmp_path / "s.npy"
    np.save(p, cube)
    return p


def test_resume_recomputes_when_any_result_option_changes(tmp_path, scene):
    out = tmp_path / "out"
    first = batch.SceneOptions.make(bands="all", backend="onnx")
    row = batch.run_scene(str(scene), None, str(out), first)
    assert row["error"] is None and row["masked_pixels"] == 0
    _, meta = load_npz(out / "s.npz")
    assert meta["options"]["nodata"] is None and meta["options"]["windows"] == [5, 15]
    assert batch.run_scene(str(scene), None, str(out), first, resume=True)["resumed"] is True
    # windows change only a local-RX result: with global RX they leave the output as it is
    assert batch.run_scene(str(scene), None, str(out), batch.SceneOptions.make(bands="all", backend="onnx",
                                                                              windows=(3, 9)), resume=True)["resumed"]
    for changed in (dict(nodata=-9999.0), dict(keep_bad_bands=True), dict(adapter="first"), dict(detector="lrx"),
                    dict(detector="lrx", windows=(3, 9))):
        opts = batch.SceneOptions.make(bands="all", backend="onnx", **changed)
        row = batch.run_scene(str(scene), None, str(out), opts, resume=True)
        assert row["error"] is None and row["resumed"] is False, changed
        assert batch.run_scene(str(scene), None, str(out), opts, resume=True)["resumed"] is True, changed
    row = batch.run_scene(str(scene), None, str(out), batch.SceneOptions.make(bands="all", backend="onnx",
                                                                         nodata=-9999.0), resume=True)
    assert row["resumed"] is False and row["masked_pixels"] == 1


def test_envi_pair_in_a_glob_is_one_scene(tmp_path):
    mp.make_aviris_ng(tmp_path / "envi", data_ext=".img")
    np.save(tmp_path / "other.npy", np.zeros((4, 4, 3), np.float32))
    pairs = batch.expand_inputs([str(tmp_path / "*")])
    assert sorted(p[0] for p in pairs) == [str(tmp_path / "envi.hdr"), str(tmp_path / "other.npy")]
    assert batch.expand_inputs([str(tmp_path / "envi.img"), str(tmp_path / "envi.hdr")]) == [
        (str(tmp_path / "envi.hdr"), None)]


def test_workers_capped_by_cores_and_memory_split_over_those_started():
    n, note = batch.plan_workers(1000, threads=1, max_workers=4, cores=2)
    assert n == 2 and "capped at 2" in note
    assert batch.plan_workers(1000, threads=1, max_workers=4, cores=2, oversubscribe=True) == (4, "")
    assert batch.plan_workers(None, threads=2, max_workers=10, cores=8) == (4, "")
    assert batch.plan_workers(3, threads=1, max_workers=2, cores=8) == (2, "")
    total = 24 * 2**30
    assert batch.worker_memory(None, 4, total=total) == 6 * 2**30
    assert batch.worker_memory("auto", 2, total=total) == 12 * 2**30
    assert batch.worker_memory(0.25, 2, total=total) == 6 * 2**30
    assert batch.worker_memory("4GiB", 2, total=total) == "4GiB"


@pytest.mark.parametrize("n, threads, cores, want", [(1, 1, 2, "2"), (2, 1, 2, "1"), (4, 1, 2, "1"), (2, 2, 8, "2")])
def test_worker_threads_share_the_cores(n, threads, cores, want):
    """Each local worker gets cores // (workers x task threads) compute threads (at least 1) for BLAS,
    ONNX Runtime and fers's own pools: one worker uses every core, N workers do not oversubscribe."""
    from fers.batch import worker_env

    env = worker_env(n, threads, cores=cores)
    assert env["FERS_THREADS"] == env["FERS_ORT_THREADS"] == env["OMP_NUM_THREADS"] == want


def test_local_cluster_workers_get_their_thread_share(monkeypatch):
    """``connect`` starts its workers with that environment (Dask's nanny alone would say 1 thread)."""
    import os

    from fers.batch import connect, worker_env

    with connect(workers=1, max_workers=1) as (client, _):
        got = client.run(lambda: os.environ.get("FERS_THREADS"))
    assert list(got.values()) == [worker_env(1)["FERS_THREADS"]]

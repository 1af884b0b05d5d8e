"""The app's worker processes (:mod:`fers.ui.worker`): a request that needs too much memory, crashes or runs
too long is stopped, answered with one line, and the next request is served as if nothing had happened."""

import pytest

from fers.errors import FersInputError
from fers.ui import worker

MiB = 2**20


@pytest.fixture(scope="module")
def pool():
    p = worker.Pool(1, data_limit=300 * MiB, time_limit=5.0)
    yield p
    p.close()


def test_memory_over_the_limit_is_refused_and_the_worker_serves_on(pool):
    assert pool.call("tests.ui.pool_jobs:allocate", 50 * MiB) == 50 * MiB
    with pytest.raises(MemoryError, match="not enough memory"):
        pool.call("tests.ui.pool_jobs:allocate", 2000 * MiB)
    assert pool.call("tests.ui.pool_jobs:allocate", 50 * MiB) == 50 * MiB


def test_a_dead_worker_is_replaced(pool):
    before = pool.call("tests.ui.pool_jobs:pid")
    with pytest.raises(worker.WorkerLost, match="not enough memory"):
        pool.call("tests.ui.pool_jobs:die")
    after = pool.call("tests.ui.pool_jobs:pid")
    assert after != before


def test_time_limit_kills_the_request(pool):
    with pytest.raises(worker.WorkerLost, match="longer than this server's limit of 5 s"):
        pool.call("tests.ui.pool_jobs:sleep", 60)
    assert pool.call("tests.ui.pool_jobs:sleep", 0) > 0


def test_memory_left_behind_goes_with_its_worker():
    """A request that leaves more than RECYCLE_BYTES referenced is followed by a fresh worker, so the
    next request's memory estimate is about that request alone; a small leftover keeps the worker."""
    p = worker.Pool(1, data_limit=2048 * MiB, time_limit=60.0)
    try:
        first = p.call("tests.ui.pool_jobs:keep", 1 * MiB)
        assert p.call("tests.ui.pool_jobs:pid") == first
        assert p.call("tests.ui.pool_jobs:keep", worker.RECYCLE_BYTES + 100 * MiB) == first
        assert p.replaced == 1 and p.call("tests.ui.pool_jobs:pid") != first
    finally:
        p.close()


def test_input_errors_keep_their_line(pool):
    with pytest.raises(FersInputError, match=r"^/nonexistent/missing\.npy: file not found$"):
        pool.call("describe_upload", "/nonexistent/missing.npy")


@pytest.mark.parametrize("kind", ["FersModelError", "FersResourceError", "ModelUnavailable"])
def test_every_error_kind_crosses_the_process_boundary(pool, kind):
    """A worker's FersError comes back as the same kind (a subclass as its kind), with its one line."""
    from fers import errors

    if kind == "ModelUnavailable":
        with pytest.raises(errors.FersModelError, match="^no model$"):
            pool.call("tests.ui.pool_jobs:refuse_model", "no model")
        return
    with pytest.raises(getattr(errors, kind), match="^over the budget$"):
        pool.call("tests.ui.pool_jobs:refuse", kind, "over the budget")

"""Local (dual-window) RX detector, vectorised.

For each pixel ``x`` of a cube ``(H, W, B)`` the background is the outer window minus the inner
guard window; with its mean ``mu`` and sample covariance ``C`` (divisor n - 1, like ``np.cov``):

    score(x) = (x - mu)^T C^{-1} (x - mu)        (the RX statistic of paper eq. 17, locally)

Window convention (``border="shift"``, the default) is that of ``spectral.rx(X, window=(inner,
outer))`` (SPy 0.25, ``inner_outer_window_mask_creator``): both windows are ``size x size``
squares centred on the pixel; near a border they are shifted, not clipped, to stay inside the
image, so every pixel has exactly ``outer**2 - inner**2`` background pixels (the pixel is then
off-centre). ``border="clip"`` instead clips both windows to the image, so border pixels have
fewer background pixels. Along an axis shorter than a window, the window is the whole axis.

Implementation: window sums of ``z = [1, x]`` and ``z z^T`` (count, sums, sums of products; lower
triangle only) come from running column sums (updated as the windows slide down the rows, each row's
``z z^T`` computed once) and cumulative sums along each row (outer sums minus inner sums). Each
pixel then needs one Cholesky factorisation of the ``(B + 2, B + 2)`` bordered matrix
``[[n, s^T, 1], [s, S, x], [1, x^T, BIG]]``: the Schur complement of ``n`` is ``S - s s^T / n =
(n - 1) C``, and the factor's last row is ``L^{-1} (x - mu)``, so the score is ``(n - 1)`` times its
squared norm (no explicit mean, covariance or solve; ``BIG`` only keeps the last pivot positive).
Memory is about ``(5 K + 2 (B + 2)^2 + min(H, outer) K) * 8`` bytes per column and thread,
``K = (B + 1)(B + 2) / 2``; wide images are processed in column strips (``max_bytes``).

Threads: the rows are cut into :func:`fers.threads.compute_threads` contiguous blocks scored in
parallel (each with its own sliding sums), with BLAS/LAPACK held to one thread (OpenBLAS's threads
on one ``(B + 2)^2`` factorisation only spin: 12x slower on the shared project CPU). Each block
starts its running sums afresh, so the thread count changes scores only by rounding (~1e-12).

Windows with fewer than ``B + 1`` background pixels have a singular covariance: they get a ridge
``C + ridge * trace(C) / B * I`` (only those windows, so the others match SPy). A window whose
bordered matrix is not numerically positive definite (e.g. constant bands) falls back to an explicit
covariance and ``np.linalg.solve``, then to the pseudo-inverse of :func:`fers.detectors.rx.whitener_from_cov`,
so scores are always finite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg.lapack import dpotrf as _potrf

from fers.detectors.registry import Detector, Option, register
from fers.detectors.rx import whitener_from_cov
from fers.errors import FersInputError
from fers.progress import bar
from fers.threads import compute_threads, single_blas

DEFAULT_RIDGE = 1e-3
DEFAULT_WINDOWS = (5, 15)  # (inner, outer) window widths in pixels
MAX_BYTES = 256 * 2**20


def parse_windows(value) -> tuple[int, int]:
    """``"5,15"`` or ``(5, 15)`` -> ``(inner, outer)``: odd widths with ``1 <= inner < outer``."""
    try:
        parts = str(value).replace(" ", "").strip("()[]").split(",") if isinstance(value, str) else list(value)
        inner, outer = (int(t) for t in parts)
    except (TypeError, ValueError):
        raise FersInputError(f"windows {value!r}: write two odd widths INNER,OUTER, e.g. 5,15") from None
    if not (1 <= inner < outer and inner % 2 == 1 and outer % 2 == 1):
        raise FersInputError(f"windows must be odd with 1 <= inner < outer, got {inner},{outer}")
    return inner, outer


def window_ranges(n: int, size: int, border: str = "shift") -> tuple[np.ndarray, np.ndarray]:
    """Start/stop ``(n,)`` int arrays of the ``size`` window of each index along an axis of length n."""
    c = np.arange(n)
    half = size // 2
    if border == "shift" and n >= size:
        start = np.clip(c - half, 0, n - size)
        return start, start + size
    if border not in ("shift", "clip"):
        raise ValueError(f"border must be 'shift' or 'clip', got {border!r}")
    return np.maximum(c - half, 0), np.minimum(c - half + size, n)


class _RowMoments:
    """Packed lower triangle of ``z z^T`` for the augmented pixels ``z = [1, x]`` of one row:
    ``(Wc, K)`` with ``K = (B + 1)(B + 2) / 2`` (``np.tril_indices(B + 1)`` order), so entry 0 is
    the count, entries ``(i, 0)`` the sum of ``x`` and the rest the sum of ``x x^T``. Each row is
    computed once and kept while it is inside the outer window (``drop_below``)."""

    def __init__(self, x: np.ndarray, valid: np.ndarray | None = None):
        self.x, self.valid = x, valid  # valid (H, Wc) bool or None: masked pixels weigh 0 (z = 0)
        self.ti, self.tj = np.tril_indices(x.shape[2] + 1)
        self._count = np.arange(1, x.shape[2] + 2)  # z[:, ti] == np.repeat(z, _count, axis=1)
        self._z = np.ones((x.shape[1], x.shape[2] + 1))
        self._rows: dict[int, np.ndarray] = {}

    def row(self, r: int) -> np.ndarray:
        v = self._rows.get(r)
        if v is None:
            self._z[:, 1:] = self.x[r]
            if self.valid is not None:  # a masked pixel adds nothing: not to the count, sums or products
                self._z[:, 0] = self.valid[r]
                self._z[:, 1:] *= self.valid[r][:, None]
            v = self._rows[r] = np.repeat(self._z, self._count, axis=1) * np.take(self._z, self.tj, axis=1)
        return v

    def drop_below(self, r: int) -> None:
        for k in [k for k in self._rows if k < r]:
            del self._rows[k]


class _SlidingSums:
    """Per-column sums ``s (Wc, K)`` of :class:`_RowMoments` over a sliding range of rows."""

    def __init__(self, moments: _RowMoments):
        self.m = moments
        self.a = self.b = 0
        self.s = np.zeros((moments.x.shape[1], len(moments.ti)))

    def move_to(self, a: int, b: int) -> None:
        """Make the range ``[a, b)`` (both ends never move backwards)."""
        if a >= self.b:  # disjoint: restart (avoids adding then removing the same rows)
            self.s[:] = 0.0
            self.a = self.b = a
        for r in range(self.b, b):
            self.s += self.m.row(r)
        for r in range(self.a, a):
            self.s -= self.m.row(r)
        self.a, self.b = a, b


def _cumsum_rows(s: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """``cs[0] = 0``, ``cs[k + 1] = s[0] + ... + s[k]`` (row by row: faster than ``np.cumsum(axis=0)``)."""
    cs[0] = 0.0
    for k in range(s.shape[0]):
        np.add(cs[k], s[k], out=cs[k + 1])
    return cs


def _window_sums(s: np.ndarray, c0: np.ndarray, c1: np.ndarray, cs: np.ndarray, out: np.ndarray,
                 tmp: np.ndarray) -> np.ndarray:
    """``out[j] = s[c0[j]] + ... + s[c1[j] - 1]``: sums of ``s (W, K)`` over the column windows.

    Equal-width windows (the usual case): a narrow one (<= 7 columns) is summed directly, a wide one
    by one difference of the cumulative sums ``cs (W + 1, K)``, then gathered once; unequal widths
    (``border="clip"``) use two gathers of ``cs``.
    """
    m = int(c1[0] - c0[0])
    if np.all(c1 - c0 == m):
        n = s.shape[0] - m + 1
        if m <= 7:
            acc = s[:n].copy()
            for k in range(1, m):
                acc += s[k : k + n]
        else:
            acc = _cumsum_rows(s, cs)
            acc = acc[m:] - acc[:-m]
        return np.take(acc, c0, axis=0, out=out)
    _cumsum_rows(s, cs)
    np.take(cs, c1, axis=0, out=out)
    out -= np.take(cs, c0, axis=0, out=tmp)
    return out


def _fallback(packed: np.ndarray, x: np.ndarray, ti: np.ndarray, tj: np.ndarray) -> float:
    """Score of one window whose bordered matrix is not positive definite, from its packed moments
    ``(K,)`` and the pixel ``x (B,)``: explicit covariance and solve, else the pseudo-inverse."""
    b = x.shape[0]
    m = np.zeros((b + 1, b + 1))
    m[ti, tj] = packed
    m[tj, ti] = packed
    n = max(m[0, 0], 1.0)
    s = m[1:, 0]
    cov = (m[1:, 1:] - np.outer(s, s) / n) / max(n - 1.0, 1.0)
    d = x - s / n
    try:
        out = float(d @ np.linalg.solve(cov, d))
        if np.isfinite(out):
            return out
    except np.linalg.LinAlgError:
        pass
    y = d @ whitener_from_cov(cov)
    return float(y @ y)


def _scores(aug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores ``(P,)`` and a success mask from bordered moment matrices ``aug (P, B + 2, B + 2)``
    (lower triangles; factorised in place).

    ``aug = [[n, s^T, 1], [s, S, x], [1, x^T, BIG]]`` (window count, sums and sums of products,
    then the pixel). Its Cholesky factor's last row holds ``y = L^{-1} (x - mu)`` with ``L L^T =
    S - s s^T / n = (n - 1) C`` (the Schur complement of ``n``), so one Cholesky per pixel gives
    ``score = (n - 1) ||y||^2`` without forming ``C``. ``BIG`` only keeps the last pivot positive.
    LAPACK ``dpotrf`` runs on each C-ordered matrix's transposed (Fortran) view, upper triangle =
    our lower one, so nothing is copied.
    """
    b = aug.shape[1] - 2
    n = aug[:, 0, 0].copy()
    ok = np.ones(aug.shape[0], bool)
    for p in range(aug.shape[0]):
        ok[p] = _potrf(aug[p].T, lower=0, clean=0, overwrite_a=1)[1] == 0
    y = aug[:, b + 1, 1 : b + 1]
    out = np.einsum("pb,pb->p", y, y) * (n - 1.0)
    return out, ok & np.isfinite(out)


_BIG = 1e300


def _local_rx_strip(x, row_windows, ci, co, cols, ridge, rows_done=None, valid=None, rows=None, step=1.0) -> np.ndarray:
    """Scores ``(r1 - r0, len(cols))`` for output columns ``cols`` of the rows ``rows = (r0, r1)``
    (default all); ``x (H, Wc, B)`` (and ``valid``, when given) hold only the needed input columns.
    ``row_windows``: ``(inner, outer)`` row ranges of every row (:func:`window_ranges`), ``ci``/``co``
    the column ranges of the output columns.
    ``rows_done.update(step)`` after each row."""
    h, w, b = x.shape
    ri, ro = row_windows
    r0, r1 = rows or (0, h)
    nout = len(cols)
    out = np.empty((r1 - r0, nout))
    moments = _RowMoments(x, valid)
    k = len(moments.ti)
    outer_rows, inner_rows = _SlidingSums(moments), _SlidingSums(moments)
    cs_o, cs_i = np.empty((w + 1, k)), np.empty((w + 1, k))
    bg, tmp, tmp2 = np.empty((nout, k)), np.empty((nout, k)), np.empty((nout, k))
    aug = np.zeros((nout, b + 2, b + 2))  # upper triangles stay 0 (Cholesky reads the lower ones)
    flat = moments.ti * (b + 2) + moments.tj  # packed index -> position in aug
    diag = np.arange(1, b + 1)
    diag_k = diag * (diag + 1) // 2 + diag  # packed index of (i, i)
    sum_k = diag * (diag + 1) // 2  # packed index of (i, 0)
    aug_flat = aug.reshape(nout, -1)
    (ci0, ci1), (co0, co1) = ci, co
    for i in range(r0, r1):
        outer_rows.move_to(ro[0][i], ro[1][i])
        inner_rows.move_to(ri[0][i], ri[1][i])
        moments.drop_below(min(ro[0][i], ri[0][i]))
        _window_sums(outer_rows.s, co0, co1, cs_o, bg, tmp)  # outer window sums ...
        bg -= _window_sums(inner_rows.s, ci0, ci1, cs_i, tmp, tmp2)  # ... minus inner window sums
        bg[:, 0] = np.maximum(np.rint(bg[:, 0]), 1.0)  # exact counts
        n = bg[:, 0]
        few = np.flatnonzero(n - 1 < b)
        if few.size:  # C + ridge * trace(C) / B * I, written on S: (n - 1) * that
            s = bg[few][:, sum_k]
            tr = bg[few][:, diag_k].sum(axis=1) - np.einsum("pb,pb->p", s, s) / n[few]
            bg[few[:, None], diag_k] += (ridge * tr / b)[:, None]
        aug_flat[:, flat] = bg
        aug[:, b + 1, 0] = 1.0
        aug[:, b + 1, 1 : b + 1] = xi = x[i, cols]
        aug[:, b + 1, b + 1] = _BIG
        out[i - r0], ok = _scores(aug)
        for p in np.flatnonzero(~ok):  # rare: (near-)singular windows
            out[i - r0, p] = _fallback(bg[p], xi[p], moments.ti, moments.tj)
        if rows_done is not None:
            rows_done.update(step)
    return out


def local_rx(
    cube: np.ndarray,
    inner: int,
    outer: int,
    ridge: float = DEFAULT_RIDGE,
    border: str = "shift",
    max_bytes: int = MAX_BYTES,
    valid: np.ndarray | None = None,
) -> np.ndarray:
    """Dual-window local RX of ``cube (H, W, B)`` -> ``(H, W)`` float64.

    ``inner``/``outer``: odd window widths in pixels (guard window and background window).
    Works on raw cubes or on enhanced features (e.g. ``H + F_spe + F_spa``). ``valid (H, W)`` bool:
    masked (no-data) pixels, False, are left out of every window's mean and covariance (a window
    then has fewer background pixels; the ridge covers windows left with too few); their own
    scores are computed but mean nothing.
    """
    inner, outer = parse_windows((inner, outer))
    x = np.asarray(cube, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"local_rx expects (H, W, B), got shape {x.shape}")
    h, w, b = x.shape
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (h, w):
            raise ValueError(f"valid mask {valid.shape} does not match the cube's (H, W) {(h, w)}")
        if valid.all():
            valid = None
    centre = x.reshape(-1, b).mean(axis=0) if valid is None or not valid.any() else x[valid].mean(axis=0)
    x = x - centre  # RX is shift invariant; centring keeps sums accurate
    ro, ri = window_ranges(h, outer, border), window_ranges(h, inner, border)
    co, ci = window_ranges(w, outer, border), window_ranges(w, inner, border)
    threads = max(1, min(compute_threads(), h))
    per_col = (5 * (b + 1) * (b + 2) // 2 + 2 * (b + 2) ** 2
               + min(h, outer) * (b + 1) * (b + 2) // 2) * 8 + 1
    strip = max(1, int(max_bytes // (per_col * threads)))  # every thread holds one strip's buffers
    out = np.empty((h, w))
    starts = range(0, w, strip)
    bounds = np.linspace(0, h, threads + 1).round().astype(int)  # contiguous row blocks, one per thread
    tasks = [(c0, (int(a), int(z))) for c0 in starts for a, z in zip(bounds[:-1], bounds[1:]) if z > a]
    with bar(total=h, desc="local RX", unit="row") as rows_done:

        def run(task):
            c0, rows = task
            c1 = min(w, c0 + strip)
            a, z = int(co[0][c0:c1].min()), int(co[1][c0:c1].max())  # input columns needed
            cols = np.arange(c0, c1) - a
            ci_s = (ci[0][c0:c1] - a, ci[1][c0:c1] - a)
            co_s = (co[0][c0:c1] - a, co[1][c0:c1] - a)
            out[rows[0]:rows[1], c0:c1] = _local_rx_strip(
                x[:, a:z], (ri, ro), ci_s, co_s, cols, ridge, rows_done,
                None if valid is None else valid[:, a:z], rows, (c1 - c0) / w)

        with single_blas():  # (B + 2)^2 factorisations: BLAS threads would only spin; rows run in parallel
            if threads == 1 or len(tasks) == 1:
                for t in tasks:
                    run(t)
            else:
                with ThreadPoolExecutor(threads, thread_name_prefix="fers-lrx") as ex:
                    list(ex.map(run, tasks))
    return out


def _scorer(valid=None, windows=DEFAULT_WINDOWS):
    inner, outer = windows
    return lambda cube: local_rx(cube, inner, outer, valid=valid)


def _work(pixels: int, n: int, height: int) -> int:
    """Peak bytes of :func:`local_rx` on ``pixels x n``: the float64 centred copy and its scores, and
    one column strip's window sums and bordered ``(n + 2)^2`` factors (:data:`MAX_BYTES` or one column)."""
    k = (n + 1) * (n + 2) // 2
    per_col = (5 * k + 2 * (n + 2) ** 2 + min(height, 15) * k) * 8
    return 16 * pixels * n + max(MAX_BYTES, per_col) + 8 * pixels


register(Detector(
    "lrx", "local (dual-window) RX", _scorer, _work,
    options=(Option("windows", DEFAULT_WINDOWS, parse_windows, "local RX windows INNER,OUTER (odd widths)",
                    ",".join(map(str, DEFAULT_WINDOWS))),)))

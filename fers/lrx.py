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

Implementation: window sums of ``x`` and ``x x^T`` come from running column sums (updated as the
windows slide down the rows) and cumulative sums along each row (outer sums minus inner sums), so
the cost per pixel is O(B^2) for the statistics plus one batched ``np.linalg.solve`` (O(B^3)).
Memory is about ``4 * Wc * B * B * 8`` bytes for a strip of ``Wc`` columns; wide images are
processed in column strips (``max_bytes``).

Windows with fewer than ``B + 1`` background pixels have a singular covariance: they get a ridge
``C + ridge * trace(C) / B * I`` (only those windows, so the others match SPy). A window whose
covariance is still singular (e.g. constant bands) falls back to the pseudo-inverse of
:func:`fers.rx.whitener_from_cov`, so scores are always finite.
"""

from __future__ import annotations

import numpy as np

from .rx import whitener_from_cov

DEFAULT_RIDGE = 1e-3
MAX_BYTES = 256 * 2**20


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


def _check_windows(inner: int, outer: int) -> tuple[int, int]:
    inner, outer = int(inner), int(outer)
    if inner < 1 or outer <= inner or inner % 2 == 0 or outer % 2 == 0:
        raise ValueError(f"windows must be odd with 1 <= inner < outer, got ({inner}, {outer})")
    return inner, outer


class _Packing:
    """Upper-triangle packing of symmetric ``(B, B)`` matrices into ``T = B (B + 1) / 2`` values."""

    def __init__(self, b: int):
        self.iu = np.triu_indices(b)
        full = np.empty((b, b), dtype=np.intp)
        full[self.iu] = np.arange(len(self.iu[0]))
        full[self.iu[1], self.iu[0]] = np.arange(len(self.iu[0]))
        self.full_index = full

    def outer_sum(self, rows: np.ndarray) -> np.ndarray:
        """``(k, W, B)`` -> packed sum over k of per-column outer products ``(W, T)``."""
        return np.einsum("kwt,kwt->wt", rows[..., self.iu[0]], rows[..., self.iu[1]])

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """``(P, T)`` -> ``(P, B, B)``."""
        return packed[:, self.full_index]


class _SlidingColumnSums:
    """Sums over a sliding range of rows, per column: ``s1 (W, B)`` and packed ``s2 (W, T)``."""

    def __init__(self, x: np.ndarray, pack: _Packing):
        self.x, self.pack = x, pack
        _, w, b = x.shape
        self.a = self.b = 0
        self.s1 = np.zeros((w, b))
        self.s2 = np.zeros((w, len(pack.iu[0])))

    def move_to(self, a: int, b: int) -> None:
        """Make the range ``[a, b)`` (both ends never move backwards)."""
        if a >= self.b:  # disjoint: restart (avoids adding then removing the same rows)
            self.s1[:] = 0.0
            self.s2[:] = 0.0
            self.a = self.b = a
        if b > self.b:
            new = self.x[self.b : b]
            self.s1 += new.sum(axis=0)
            self.s2 += self.pack.outer_sum(new)
        if a > self.a:
            old = self.x[self.a : a]
            self.s1 -= old.sum(axis=0)
            self.s2 -= self.pack.outer_sum(old)
        self.a, self.b = a, b


class _ColumnBoxes:
    """Sums of ``s (W, T)`` over column ranges via one cumulative sum (reused buffer)."""

    def __init__(self, w: int, t: int):
        self.cs = np.zeros((w + 1, t))

    def __call__(self, s: np.ndarray, j0: np.ndarray, j1: np.ndarray) -> np.ndarray:
        cs = self.cs[:, : s.shape[1]]
        np.cumsum(s, axis=0, out=cs[1:])
        return cs[j1] - cs[j0]


def _scores(d: np.ndarray, cov: np.ndarray, n: np.ndarray, ridge: float) -> np.ndarray:
    """Mahalanobis ``d_p^T cov_p^{-1} d_p`` for ``d (P, B)``, ``cov (P, B, B)``, counts ``n (P,)``."""
    b = d.shape[1]
    few = n - 1 < b
    if np.any(few):
        tr = np.trace(cov[few], axis1=1, axis2=2) / b
        cov[few] += (ridge * tr)[:, None, None] * np.eye(b)
    try:
        sol = np.linalg.solve(cov, d[:, :, None])[:, :, 0]
        out = np.einsum("pb,pb->p", d, sol)
        if np.all(np.isfinite(out)):
            return out
    except np.linalg.LinAlgError:
        pass
    out = np.empty(d.shape[0])
    for p in range(d.shape[0]):  # rare: exactly singular windows
        y = d[p] @ whitener_from_cov(cov[p])
        out[p] = y @ y
    return out


def _local_rx_strip(x, ri, ro, ci, co, cols, ridge) -> np.ndarray:
    """Scores for output columns ``cols`` of every row; ``x`` holds only the needed input columns."""
    h, w, b = x.shape
    pack = _Packing(b)
    out = np.empty((h, len(cols)))
    outer_rows, inner_rows = _SlidingColumnSums(x, pack), _SlidingColumnSums(x, pack)
    box = _ColumnBoxes(w, len(pack.iu[0]))
    (ci0, ci1), (co0, co1) = ci, co
    n_cols_out, n_cols_in = co1 - co0, ci1 - ci0
    for i in range(h):
        outer_rows.move_to(ro[0][i], ro[1][i])
        inner_rows.move_to(ri[0][i], ri[1][i])
        s1 = box(outer_rows.s1, co0, co1) - box(inner_rows.s1, ci0, ci1)
        s2 = box(outer_rows.s2, co0, co1)
        s2 -= box(inner_rows.s2, ci0, ci1)
        n = (ro[1][i] - ro[0][i]) * n_cols_out - (ri[1][i] - ri[0][i]) * n_cols_in
        n = np.maximum(n, 1).astype(np.float64)
        mu = s1 / n[:, None]
        cov = pack.unpack(s2)
        cov -= n[:, None, None] * mu[:, :, None] * mu[:, None, :]
        cov /= np.maximum(n - 1, 1)[:, None, None]
        out[i] = _scores(x[i, cols] - mu, cov, n, ridge)
    return out


def local_rx(
    cube: np.ndarray,
    inner: int,
    outer: int,
    ridge: float = DEFAULT_RIDGE,
    border: str = "shift",
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """Dual-window local RX of ``cube (H, W, B)`` -> ``(H, W)`` float64.

    ``inner``/``outer``: odd window widths in pixels (guard window and background window).
    Works on raw cubes or on enhanced features (e.g. ``H + F_spe + F_spa``).
    """
    inner, outer = _check_windows(inner, outer)
    x = np.asarray(cube, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"local_rx expects (H, W, B), got shape {x.shape}")
    h, w, b = x.shape
    x = x - x.reshape(-1, b).mean(axis=0)  # RX is shift invariant; centring keeps sums accurate
    ro, ri = window_ranges(h, outer, border), window_ranges(h, inner, border)
    co, ci = window_ranges(w, outer, border), window_ranges(w, inner, border)
    per_col = 4 * b * b * 8 + 1
    strip = max(1, int(max_bytes // per_col))
    out = np.empty((h, w))
    for c0 in range(0, w, strip):
        c1 = min(w, c0 + strip)
        a, z = int(co[0][c0:c1].min()), int(co[1][c0:c1].max())  # input columns needed
        cols = np.arange(c0, c1) - a
        out[:, c0:c1] = _local_rx_strip(
            x[:, a:z], ri, ro, (ci[0][c0:c1] - a, ci[1][c0:c1] - a), (co[0][c0:c1] - a, co[1][c0:c1] - a), cols, ridge
        )
    return out

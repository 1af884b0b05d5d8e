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
Memory is about ``7 * Wc * (B + 1)**2 * 8`` bytes for a strip of ``Wc`` columns; wide images are
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


class _SlidingSums:
    """Sums over a sliding range of rows, per column, of ``z z^T`` for the augmented pixel
    ``z = [1, x]``: ``s (Wc, B + 1, B + 1)`` holds the count (``[0, 0]``), the sum of ``x``
    (``[0, 1:]``) and the sum of ``x x^T`` (``[1:, 1:]``), so one window sum gives all three."""

    def __init__(self, x: np.ndarray):
        wc, b = x.shape[1], x.shape[2]
        self.x = x
        self.a = self.b = 0
        self.s = np.zeros((wc, b + 1, b + 1))
        self._z = np.ones((wc, b + 1))
        self._zz = np.empty_like(self.s)

    def _outer(self, r: int) -> np.ndarray:
        self._z[:, 1:] = self.x[r]
        return np.multiply(self._z[:, :, None], self._z[:, None, :], out=self._zz)

    def move_to(self, a: int, b: int) -> None:
        """Make the range ``[a, b)`` (both ends never move backwards)."""
        if a >= self.b:  # disjoint: restart (avoids adding then removing the same rows)
            self.s[:] = 0.0
            self.a = self.b = a
        for r in range(self.b, b):
            self.s += self._outer(r)
        for r in range(self.a, a):
            self.s -= self._outer(r)
        self.a, self.b = a, b


def _cumsum_rows(s: np.ndarray, cs: np.ndarray) -> np.ndarray:
    """``cs[0] = 0``, ``cs[k + 1] = s[0] + ... + s[k]`` (row by row: faster than ``np.cumsum(axis=0)``)."""
    cs[0] = 0.0
    for k in range(s.shape[0]):
        np.add(cs[k], s[k], out=cs[k + 1])
    return cs


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
    nout = len(cols)
    out = np.empty((h, nout))
    outer_rows, inner_rows = _SlidingSums(x), _SlidingSums(x)
    cs_o, cs_i = np.empty((w + 1, b + 1, b + 1)), np.empty((w + 1, b + 1, b + 1))
    bg, tmp = np.empty((nout, b + 1, b + 1)), np.empty((nout, b + 1, b + 1))
    mm = np.empty((nout, b, b))
    (ci0, ci1), (co0, co1) = ci, co
    for i in range(h):
        outer_rows.move_to(ro[0][i], ro[1][i])
        inner_rows.move_to(ri[0][i], ri[1][i])
        _cumsum_rows(outer_rows.s, cs_o)
        _cumsum_rows(inner_rows.s, cs_i)
        np.take(cs_o, co1, axis=0, out=bg)  # outer window sums ...
        bg -= np.take(cs_o, co0, axis=0, out=tmp)
        bg -= np.take(cs_i, ci1, axis=0, out=tmp)  # ... minus inner window sums
        bg += np.take(cs_i, ci0, axis=0, out=tmp)
        n = np.maximum(np.rint(bg[:, 0, 0]), 1.0)
        mu = bg[:, 0, 1:] / n[:, None]
        cov = np.ascontiguousarray(bg[:, 1:, 1:])
        np.multiply(mu[:, :, None], mu[:, None, :], out=mm)
        mm *= n[:, None, None]
        cov -= mm
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
    per_col = 7 * (b + 1) ** 2 * 8 + 1
    strip = max(1, int(max_bytes // per_col))
    out = np.empty((h, w))
    for c0 in range(0, w, strip):
        c1 = min(w, c0 + strip)
        a, z = int(co[0][c0:c1].min()), int(co[1][c0:c1].max())  # input columns needed
        cols = np.arange(c0, c1) - a
        ci_s = (ci[0][c0:c1] - a, ci[1][c0:c1] - a)
        co_s = (co[0][c0:c1] - a, co[1][c0:c1] - a)
        out[:, c0:c1] = _local_rx_strip(x[:, a:z], ri, ro, ci_s, co_s, cols, ridge)
    return out

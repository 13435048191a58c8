# mypy: allow-untyped-defs
"""A cell grid over the customers themselves, for repeated queries with few equipment.

Streaming every customer costs about the same whatever the equipment; once the
customers are sorted into cells (one counting sort, O(N)), a query with a few
hundred equipment visits only the cells around them. The index builds this
grid when it is asked a second question, and uses it when the cells to visit
hold far fewer customers than the whole set.
"""

from __future__ import annotations

from typing import Any

from .._numba_cache import CACHE  # first: it may set NUMBA_CACHE_DIR for numba

# isort: split
import numpy as np
from numba import njit, prange

from ._kernels import _cell_of


@njit(cache=CACHE, nogil=True)
def sort_into_cells(x, y, gx0, gy0, inv_cell, nx, ny):  # pragma: no cover - compiled
    """Sort the customers by cell (counting sort): ``cell_start``, ``perm``, sorted x, y."""
    n = x.size
    cell_start = np.zeros(nx * ny + 1, np.int64)
    cell = np.empty(n, np.int64)
    for i in range(n):
        c = _cell_of(y[i], gy0, inv_cell, ny) * nx + _cell_of(x[i], gx0, inv_cell, nx)
        cell[i] = c
        cell_start[c + 1] += 1
    for c in range(nx * ny):
        cell_start[c + 1] += cell_start[c]
    fill = cell_start[:-1].copy()
    perm = np.empty(n, np.int64)
    xs = np.empty(n, np.float64)
    ys = np.empty(n, np.float64)
    for i in range(n):
        p = fill[cell[i]]
        fill[cell[i]] += 1
        perm[p] = i
        xs[p] = x[i]
        ys[p] = y[i]
    return cell_start, perm, xs, ys


@njit(cache=CACHE, parallel=True, nogil=True)
def query_cells(
    xs,
    ys,
    cell_start,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    ex,
    ey,
    epad,
    et2,
    chunk,
    offsets,
    out_p,
    out_j,
    out_d,
):  # pragma: no cover - compiled
    """Pairs (grid position, equipment number, distance) with ``d2 <= et2``.

    Equipment ``j`` visits the cells overlapping its box dilated by
    ``epad[j]`` (>= its radius plus tolerance), so no pair can be missed; the
    squared distance decides, exactly as in the streaming kernel. Called
    twice: with ``offsets`` empty it returns counts per chunk of equipment,
    then it writes from ``offsets``. Pairs are grouped by equipment.
    """
    m = ex.size
    nchunks = (m + chunk - 1) // chunk
    counts = np.zeros(nchunks, np.int64)
    fill = offsets.size > 0
    for b in prange(nchunks):
        p = offsets[b] if fill else 0
        total = 0
        for j in range(b * chunk, min(m, (b + 1) * chunk)):
            xj = ex[j]
            yj = ey[j]
            t2 = et2[j]
            ix0 = _cell_of(xj - epad[j], gx0, inv_cell, nx)
            ix1 = _cell_of(xj + epad[j], gx0, inv_cell, nx)
            iy0 = _cell_of(yj - epad[j], gy0, inv_cell, ny)
            iy1 = _cell_of(yj + epad[j], gy0, inv_cell, ny)
            for iy in range(iy0, iy1 + 1):
                for c in range(iy * nx + ix0, iy * nx + ix1 + 1):
                    for q in range(cell_start[c], cell_start[c + 1]):
                        dx = xs[q] - xj
                        dy = ys[q] - yj
                        d2 = dx * dx + dy * dy
                        if d2 <= t2:
                            total += 1
                            if fill:
                                out_p[p] = q
                                out_j[p] = j
                                out_d[p] = np.sqrt(d2)
                                p += 1
        counts[b] = total
    return counts


class CustomerGrid:
    """Customers counting-sorted into square cells (about 8 customers a cell on average)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, *, max_cells: int) -> None:
        n = x.size
        self.gx0 = float(x.min()) - 1.0
        self.gy0 = float(y.min()) - 1.0
        w = float(x.max()) + 1.0 - self.gx0
        h = float(y.max()) + 1.0 - self.gy0
        cells = min(max(1, n // 8), max_cells)
        self.cell = max(float(np.sqrt(w * h / cells)), 1.0)
        self.inv = 1.0 / self.cell
        self.nx = int(w / self.cell) + 1
        self.ny = int(h / self.cell) + 1
        self.cell_start, self.perm, self.xs, self.ys = sort_into_cells(
            x, y, self.gx0, self.gy0, self.inv, self.nx, self.ny
        )
        occupied = int(np.count_nonzero(np.diff(self.cell_start)))
        self.per_cell = n / max(1, occupied)

    def visit_cost(self, pad: np.ndarray) -> float:
        """Estimated customers tested by a query (to compare with streaming all)."""
        side = 2.0 * pad / self.cell + 2.0
        return float(np.sum(side * side)) * self.per_cell

    def query(
        self, ex: np.ndarray, ey: np.ndarray, pad: np.ndarray, t2: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs (customer row, equipment number, distance), grouped by equipment."""
        chunk = 64
        none_i = np.empty(0, np.int64)
        args: tuple[Any, ...] = (self.xs, self.ys, self.cell_start, self.gx0, self.gy0)
        args += (self.inv, self.nx, self.ny, ex, ey, pad, t2, chunk)
        kernel: Any = query_cells  # numba dispatchers confuse mypy's argument count
        counts = kernel(*args, none_i, none_i, none_i, np.empty(0))
        offsets = np.zeros(counts.size + 1, np.int64)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        out_p = np.empty(total, np.int64)
        out_j = np.empty(total, np.int64)
        out_d = np.empty(total, np.float64)
        kernel(*args, offsets, out_p, out_j, out_d)
        return self.perm[out_p], out_j, out_d

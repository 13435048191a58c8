# mypy: allow-untyped-defs
"""Numba kernels of the proximity engine (the hot path).

Everything here works on plain coordinate arrays; nothing creates a shapely
object. Kernels are compiled on first use and cached on disk (``cache=CACHE``: a
writable folder is chosen by :mod:`smartstreet_geo._numba_cache`), so only the first
run on a machine pays the compile time.

Exactness: a candidate at squared distance ``d2 = dx*dx + dy*dy`` (float64,
``dx = x_customer - x_equipment``) is within radius ``r`` when
``d2 <= (r + tol)**2``; the reported distance is ``sqrt(d2)``. Cell and tree
bounds are only used to skip work, never to decide, and they are padded so
that floating-point rounding in the cell arithmetic can never skip a pair.
"""

from __future__ import annotations

from .._numba_cache import CACHE, run_chunks  # first: it may set NUMBA_CACHE_DIR

# isort: split
from itertools import pairwise

import numpy as np
from numba import njit, prange

# -------------------------------------------------------------------- cell grid over boxes


@njit(cache=CACHE, nogil=True)
def _cell_of(v: float, origin: float, inv_cell: float, n: int) -> int:  # pragma: no cover
    f = (v - origin) * inv_cell
    if f < 0.0:
        return 0
    if f >= n:
        return n - 1
    return int(f)


@njit(cache=CACHE, nogil=True)
def build_box_grid(
    xmin, ymin, xmax, ymax, pad, gx0, gy0, inv_cell, nx, ny
):  # pragma: no cover - compiled
    """Bucket boxes dilated by ``pad`` into the cells they overlap.

    Returns ``cell_start`` (int64, ``nx*ny + 1``) and ``entry`` (int32 box
    numbers, in increasing order within each cell).
    """
    m = xmin.size
    counts = np.zeros(nx * ny + 1, np.int64)
    for j in range(m):
        ix0 = _cell_of(xmin[j] - pad[j], gx0, inv_cell, nx)
        ix1 = _cell_of(xmax[j] + pad[j], gx0, inv_cell, nx)
        iy0 = _cell_of(ymin[j] - pad[j], gy0, inv_cell, ny)
        iy1 = _cell_of(ymax[j] + pad[j], gy0, inv_cell, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                counts[iy * nx + ix + 1] += 1
    for c in range(nx * ny):
        counts[c + 1] += counts[c]
    fill = counts[:-1].copy()
    entry = np.empty(counts[-1], np.int32)
    for j in range(m):
        ix0 = _cell_of(xmin[j] - pad[j], gx0, inv_cell, nx)
        ix1 = _cell_of(xmax[j] + pad[j], gx0, inv_cell, nx)
        iy0 = _cell_of(ymin[j] - pad[j], gy0, inv_cell, ny)
        iy1 = _cell_of(ymax[j] + pad[j], gy0, inv_cell, ny)
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                c = iy * nx + ix
                entry[fill[c]] = j
                fill[c] += 1
    return counts, entry


def _chunk_ranges(nchunks: int) -> tuple[list[tuple[int, int]], int]:
    """Ranges of chunks for the threads numba would use (``numba.get_num_threads``).

    Four ranges per thread, so that a dense part of the map does not leave the other
    threads idle.
    """
    import numba

    threads = numba.get_num_threads()
    if threads <= 1 or nchunks <= 1:
        return [(0, nchunks)], 1
    parts = min(nchunks, 4 * threads)
    bounds = [nchunks * k // parts for k in range(parts + 1)]
    return list(pairwise(bounds)), threads


@njit(cache=CACHE, nogil=True)
def _within_count_chunks(
    c0,
    c1,
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    occupied,
    cell_start,
    exmin,
    eymin,
    exmax,
    eymax,
    et2,
    chunk,
    per_customer,
    counts,
):  # pragma: no cover - compiled
    """:func:`within_count` on chunks ``c0..c1`` (into ``counts``)."""
    n = x.size
    store = per_customer.size > 0
    for c in range(c0, c1):
        lo = c * chunk
        hi = min(n, lo + chunk)
        cnt = 0
        for i in range(lo, hi):
            xi = x[i]
            yi = y[i]
            fx = (xi - gx0) * inv_cell
            fy = (yi - gy0) * inv_cell
            mine = 0
            if fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny:
                cell = int(fy) * nx + int(fx)
                if (occupied[cell >> 3] >> (cell & 7)) & 1:
                    for k in range(cell_start[cell], cell_start[cell + 1]):
                        dx = max(exmin[k] - xi, xi - exmax[k], 0.0)
                        dy = max(eymin[k] - yi, yi - eymax[k], 0.0)
                        if dx * dx + dy * dy <= et2[k]:
                            mine += 1
            if store:
                per_customer[i] = mine
            cnt += mine
        counts[c] = cnt


def within_count(
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    occupied,
    cell_start,
    exmin,
    eymin,
    exmax,
    eymax,
    et2,
    chunk,
    per_customer,
):
    """Count, per chunk of customers, the (customer, box) pairs within range.

    Entry arrays (``exmin`` ... ``et2``) are laid out in grid-entry order, so
    the hot loop reads them contiguously. A point box has ``xmin == xmax``, and
    then ``max(xmin - x, x - xmax, 0)`` is exactly ``abs(x - xmin)``. ``occupied``
    is a bitmap of the cells with entries (little-endian bits): small enough to
    stay in cache, so most customers never touch ``cell_start``. When
    ``per_customer`` (int32, one per customer) is not empty, the count of every
    customer is stored there too.

    Ranges of chunks run in threads (the kernel releases the GIL), as many as
    ``numba.get_num_threads()``: a plain kernel compiles in half the time of a
    ``parallel=True`` one on the first run after installing.
    """
    n = x.size
    nchunks = (n + chunk - 1) // chunk
    counts = np.zeros(nchunks, np.int64)
    ranges, threads = _chunk_ranges(nchunks)
    run_chunks(
        lambda c0, c1: _within_count_chunks(
            c0, c1, x, y, gx0, gy0, inv_cell, nx, ny, occupied, cell_start,
            exmin, eymin, exmax, eymax, et2, chunk, per_customer, counts,
        ),
        ranges,
        threads,
    )  # fmt: skip
    return counts


@njit(cache=CACHE, nogil=True)
def _within_fill_chunks(
    c0,
    c1,
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    occupied,
    cell_start,
    exmin,
    eymin,
    exmax,
    eymax,
    et2,
    eid,
    chunk,
    offsets,
    per_customer,
    dest,
    base,
    out_i,
    out_j,
    out_d,
):  # pragma: no cover - compiled
    """:func:`within_fill` on chunks ``c0..c1``."""
    n = x.size
    by_dest = dest.size > 0
    for c in range(c0, c1):
        lo = c * chunk
        hi = min(n, lo + chunk)
        p = 0 if by_dest else offsets[c]
        h = offsets[c]
        for i in range(lo, hi):
            if by_dest:
                if per_customer[i] == 0:
                    continue
                p = dest[h]
                h += 1
            xi = x[i]
            yi = y[i]
            fx = (xi - gx0) * inv_cell
            fy = (yi - gy0) * inv_cell
            if fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny:
                cell = int(fy) * nx + int(fx)
                if not (occupied[cell >> 3] >> (cell & 7)) & 1:
                    continue
                for k in range(cell_start[cell], cell_start[cell + 1]):
                    dx = max(exmin[k] - xi, xi - exmax[k], 0.0)
                    dy = max(eymin[k] - yi, yi - eymax[k], 0.0)
                    d2 = dx * dx + dy * dy
                    if d2 <= et2[k]:
                        out_i[p] = base + i
                        out_j[p] = eid[k]
                        out_d[p] = np.sqrt(d2)
                        p += 1


def within_fill(
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    occupied,
    cell_start,
    exmin,
    eymin,
    exmax,
    eymax,
    et2,
    eid,
    chunk,
    offsets,
    per_customer,
    dest,
    base,
    out_i,
    out_j,
    out_d,
):
    """Write the pairs counted by :func:`within_count` (same arguments + outputs).

    Row order (``dest`` empty): chunk ``c`` writes from ``offsets[c]`` on, so
    pairs come out ordered by customer row. Destination order: ``offsets[c]``
    is the number of customers with pairs before chunk ``c``, the h-th such
    customer writes its pairs from ``dest[h]`` on, and customers without pairs
    (``per_customer`` 0) are skipped without a look-up. Within a customer,
    pairs follow grid-entry order (box number); ``eid`` is the label written
    for each entry (e.g. the equipment row); customers are numbered from ``base``.
    Ranges of chunks run in threads, as in :func:`within_count`.
    """
    nchunks = (x.size + chunk - 1) // chunk
    ranges, threads = _chunk_ranges(nchunks)
    run_chunks(
        lambda c0, c1: _within_fill_chunks(
            c0, c1, x, y, gx0, gy0, inv_cell, nx, ny, occupied, cell_start,
            exmin, eymin, exmax, eymax, et2, eid, chunk, offsets, per_customer,
            dest, base, out_i, out_j, out_d,
        ),
        ranges,
        threads,
    )  # fmt: skip


# -------------------------------------------------------------------- k-d tree over points


@njit(cache=CACHE, nogil=True)
def kd_build(px, py, leaf_size):  # pragma: no cover - compiled
    """Build a k-d tree over points; split on the wider axis at the median.

    Returns ``order`` (points in leaf order), per node ``start``, ``stop``,
    ``left`` (-1 for a leaf), ``right`` and bounding box, and the number of
    nodes.
    """
    m = px.size
    order = np.arange(m).astype(np.int32)
    cap = 2 * (m // max(1, leaf_size) + 1) * 2 + 1
    start = np.empty(cap, np.int64)
    stop = np.empty(cap, np.int64)
    left = np.full(cap, -1, np.int64)
    right = np.full(cap, -1, np.int64)
    bxmin = np.empty(cap, np.float64)
    bymin = np.empty(cap, np.float64)
    bxmax = np.empty(cap, np.float64)
    bymax = np.empty(cap, np.float64)
    start[0] = 0
    stop[0] = m
    n_nodes = 1
    stack = np.empty(128, np.int64)
    stack[0] = 0
    sp = 1
    while sp > 0:
        sp -= 1
        node = stack[sp]
        lo = start[node]
        hi = stop[node]
        x0 = np.inf
        y0 = np.inf
        x1 = -np.inf
        y1 = -np.inf
        for t in range(lo, hi):
            j = order[t]
            x0 = min(x0, px[j])
            x1 = max(x1, px[j])
            y0 = min(y0, py[j])
            y1 = max(y1, py[j])
        bxmin[node] = x0
        bymin[node] = y0
        bxmax[node] = x1
        bymax[node] = y1
        if hi - lo <= leaf_size or (x0 == x1 and y0 == y1):
            continue
        seg = order[lo:hi].copy()
        key = px[seg] if x1 - x0 >= y1 - y0 else py[seg]
        srt = np.argsort(key, kind="mergesort")
        for k in range(hi - lo):  # a loop: a slice assignment costs ~2 s of compiling
            order[lo + k] = seg[srt[k]]
        mid = (lo + hi) // 2
        lc = n_nodes
        rc = n_nodes + 1
        n_nodes += 2
        start[lc] = lo
        stop[lc] = mid
        start[rc] = mid
        stop[rc] = hi
        left[node] = lc
        right[node] = rc
        stack[sp] = lc
        stack[sp + 1] = rc
        sp += 2
    return order, start, stop, left, right, bxmin, bymin, bxmax, bymax, n_nodes


@njit(cache=CACHE, nogil=True)
def _kd_knn_one(
    xi,
    yi,
    px,
    py,
    order,
    start,
    stop,
    left,
    right,
    bxmin,
    bymin,
    bxmax,
    bymax,
    k,
    t2_max,
    tol,
    buf_d,
    buf_j,
    stack,
    seed2,
):  # pragma: no cover - compiled
    """Fill ``buf_d``/``buf_j`` with the k nearest points and all ties; return the count.

    Kept: every point with ``d2 <= t2_max`` and ``d <= d_k + tol``, where
    ``d_k`` is the k-th smallest distance. Sorted by (distance, point number).
    ``seed2`` is a known upper bound of ``(d_k + tol)**2`` (``inf`` if none),
    used only to prune.
    """
    cnt = 0
    sp = 1
    stack[0] = 0
    prune2 = min(t2_max, seed2)
    while sp > 0:
        sp -= 1
        node = stack[sp]
        dx = max(bxmin[node] - xi, xi - bxmax[node], 0.0)
        dy = max(bymin[node] - yi, yi - bymax[node], 0.0)
        if dx * dx + dy * dy > prune2:
            continue
        lc = left[node]
        if lc >= 0:
            rc = right[node]
            # visit the nearer child first: push it last
            cxl = max(bxmin[lc] - xi, xi - bxmax[lc], 0.0)
            cyl = max(bymin[lc] - yi, yi - bymax[lc], 0.0)
            cxr = max(bxmin[rc] - xi, xi - bxmax[rc], 0.0)
            cyr = max(bymin[rc] - yi, yi - bymax[rc], 0.0)
            if cxl * cxl + cyl * cyl <= cxr * cxr + cyr * cyr:
                stack[sp] = rc
                stack[sp + 1] = lc
            else:
                stack[sp] = lc
                stack[sp + 1] = rc
            sp += 2
            continue
        for t in range(start[node], stop[node]):
            j = order[t]
            ddx = xi - px[j]
            ddy = yi - py[j]
            d2 = ddx * ddx + ddy * ddy
            if d2 > prune2:
                continue
            d = np.sqrt(d2)
            if cnt >= k and d > buf_d[k - 1] + tol:
                continue
            # insert keeping (distance, number) order. The same insertion is written out
            # again in the grid kernel below: factoring it into an inlined @njit helper
            # returning (cnt, prune2) made nearest 4-5x slower (measured 2026-11-28).
            pos = cnt
            while pos > 0 and (buf_d[pos - 1] > d or (buf_d[pos - 1] == d and buf_j[pos - 1] > j)):
                buf_d[pos] = buf_d[pos - 1]
                buf_j[pos] = buf_j[pos - 1]
                pos -= 1
            buf_d[pos] = d
            buf_j[pos] = j
            cnt += 1
            if cnt >= k:
                lim = buf_d[k - 1] + tol
                while cnt > k and buf_d[cnt - 1] > lim:
                    cnt -= 1
                # padded so that rounding of the square never prunes a tie
                prune2 = min(prune2, lim * lim * (1.0 + 1e-12))
    return cnt


@njit(cache=CACHE, nogil=True)
def _ranks(buf_d, cnt, tol, out_rank):  # pragma: no cover - compiled
    """Competition ranks: 1 + the number of distances smaller by more than ``tol``."""
    first = 0
    for t in range(cnt):
        while buf_d[first] < buf_d[t] - tol:
            first += 1
        out_rank[t] = first + 1


@njit(cache=CACHE, nogil=True)
def block_permutation(block_start, block_len, block_order, total):  # pragma: no cover
    """Positions that put contiguous blocks in ``block_order``, each kept intact."""
    perm = np.empty(total, np.int64)
    p = 0
    for b in block_order:
        s = block_start[b]
        for t in range(block_len[b]):
            perm[p] = s + t
            p += 1
    return perm


@njit(cache=CACHE, nogil=True)
def rank_within_blocks(block_start, block_len, dist, tol, out_rank):  # pragma: no cover
    """Tie-aware competition ranks of ``dist`` within blocks sorted by distance."""
    for b in range(block_start.size):
        s = block_start[b]
        first = s
        for t in range(s, s + block_len[b]):
            while dist[first] < dist[t] - tol:
                first += 1
            out_rank[t] = first - s + 1


@njit(cache=CACHE, parallel=True, nogil=True)
def mark_cells(x, y, gx0, gy0, inv_cell, nx, ny, chunk):  # pragma: no cover - compiled
    """Flag the grid cells that hold at least one customer."""
    n = x.size
    occ = np.zeros(nx * ny, np.uint8)
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        hi = min(n, lo + chunk)
        for i in range(lo, hi):
            cx = _cell_of(x[i], gx0, inv_cell, nx)
            cy = _cell_of(y[i], gy0, inv_cell, ny)
            occ[cy * nx + cx] = 1  # benign race: every writer writes 1
    return occ


@njit(cache=CACHE, nogil=True)
def _kd_ball_one(
    xi,
    yi,
    px,
    py,
    order,
    start,
    stop,
    left,
    right,
    bxmin,
    bymin,
    bxmax,
    bymax,
    rad2,
    stack,
    out,
    pos,
):  # pragma: no cover - compiled
    """Write the points with ``d2 <= rad2`` into ``out[pos:]`` (if ``out`` is long enough)."""
    sp = 1
    stack[0] = 0
    while sp > 0:
        sp -= 1
        node = stack[sp]
        dx = max(bxmin[node] - xi, xi - bxmax[node], 0.0)
        dy = max(bymin[node] - yi, yi - bymax[node], 0.0)
        if dx * dx + dy * dy > rad2:
            continue
        lc = left[node]
        if lc >= 0:
            stack[sp] = lc
            stack[sp + 1] = right[node]
            sp += 2
            continue
        for t in range(start[node], stop[node]):
            j = order[t]
            ddx = xi - px[j]
            ddy = yi - py[j]
            if ddx * ddx + ddy * ddy <= rad2:
                if pos < out.size:
                    out[pos] = j
                pos += 1
    return pos


@njit(cache=CACHE, parallel=True, nogil=True)
def cell_candidates(
    cells,
    nx,
    gx0,
    gy0,
    cell,
    px,
    py,
    order,
    start,
    stop,
    left,
    right,
    bxmin,
    bymin,
    bxmax,
    bymax,
    k,
    max_d,
    tol,
    chunk,
):  # pragma: no cover - compiled
    """For each occupied cell, the equipment that can be among any customer's k nearest.

    With ``c`` the cell centre and ``h`` its half-diagonal, the k-th nearest
    distance of any point ``p`` in the cell is at most ``d_k(c) + h`` (it is
    1-Lipschitz), so a kept equipment ``e`` has ``d(p, e) <= d_k(c) + h + tol``
    and ``d(c, e) <= d_k(c) + 2h + tol``; with ``max_d``, also
    ``d(c, e) <= max_d + tol + h``. The lists hold every such equipment (with a
    1 micrometre margin against rounding in the cell arithmetic). Returns CSR
    ``list_start``, ``list_j``. (Filtering the lists further by each
    equipment's distance to the cell box was measured: 10-15% shorter lists
    for twice the building time, no net gain.)
    """
    nc = cells.size
    m = px.size
    h = cell * 0.7071067811865476 + 1e-6
    rad2 = np.empty(nc, np.float64)
    counts = np.zeros(nc + 1, np.int64)
    nchunks = (nc + chunk - 1) // chunk
    for b in prange(nchunks):
        buf_d = np.empty(m + 1, np.float64)
        buf_j = np.empty(m + 1, np.int64)
        none = np.empty(0, np.int32)
        stack = np.empty(256, np.int64)
        for t in range(b * chunk, min(nc, (b + 1) * chunk)):
            c = cells[t]
            cx = gx0 + (c % nx + 0.5) * cell
            cy = gy0 + (c // nx + 0.5) * cell
            cnt = _kd_knn_one(
                cx,
                cy,
                px,
                py,
                order,
                start,
                stop,
                left,
                right,
                bxmin,
                bymin,
                bxmax,
                bymax,
                k,
                np.inf,
                0.0,
                buf_d,
                buf_j,
                stack,
                np.inf,
            )
            r = buf_d[k - 1] + 2.0 * h + tol if cnt >= k else np.inf
            r = min(r, max_d + tol + h) + 1e-6
            rad2[t] = r * r
            counts[t + 1] = _kd_ball_one(
                cx,
                cy,
                px,
                py,
                order,
                start,
                stop,
                left,
                right,
                bxmin,
                bymin,
                bxmax,
                bymax,
                rad2[t],
                stack,
                none,
                0,
            )
    for t in range(nc):
        counts[t + 1] += counts[t]
    list_j = np.empty(counts[nc], np.int32)
    for b in prange(nchunks):
        stack = np.empty(256, np.int64)
        for t in range(b * chunk, min(nc, (b + 1) * chunk)):
            c = cells[t]
            cx = gx0 + (c % nx + 0.5) * cell
            cy = gy0 + (c // nx + 0.5) * cell
            _kd_ball_one(
                cx,
                cy,
                px,
                py,
                order,
                start,
                stop,
                left,
                right,
                bxmin,
                bymin,
                bxmax,
                bymax,
                rad2[t],
                stack,
                list_j[counts[t] : counts[t + 1]],
                0,
            )
    return counts, list_j


@njit(cache=CACHE, nogil=True)
def _grid_knn_one(
    xi,
    yi,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    cell_slot,
    list_start,
    list_j,
    px,
    py,
    k,
    t2_max,
    tol,
    buf_d,
    buf_j,
):  # pragma: no cover - compiled
    """Like :func:`_kd_knn_one`, scanning only the candidate list of the customer's cell."""
    slot = cell_slot[_cell_of(yi, gy0, inv_cell, ny) * nx + _cell_of(xi, gx0, inv_cell, nx)]
    cnt = 0
    prune2 = t2_max
    for s in range(list_start[slot], list_start[slot + 1]):
        j = list_j[s]
        ddx = xi - px[j]
        ddy = yi - py[j]
        d2 = ddx * ddx + ddy * ddy
        if d2 > prune2:
            continue
        d = np.sqrt(d2)
        if cnt >= k and d > buf_d[k - 1] + tol:
            continue
        pos = cnt
        while pos > 0 and (buf_d[pos - 1] > d or (buf_d[pos - 1] == d and buf_j[pos - 1] > j)):
            buf_d[pos] = buf_d[pos - 1]
            buf_j[pos] = buf_j[pos - 1]
            pos -= 1
        buf_d[pos] = d
        buf_j[pos] = j
        cnt += 1
        if cnt >= k:
            lim = buf_d[k - 1] + tol
            while cnt > k and buf_d[cnt - 1] > lim:
                cnt -= 1
            prune2 = min(prune2, lim * lim * (1.0 + 1e-12))
    return cnt


@njit(cache=CACHE, parallel=True, nogil=True)
def grid_nearest1(
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    cell_slot,
    list_start,
    list_j,
    px,
    py,
    tol,
    chunk,
    j_map,
    out_j,
    out_d,
    out_ties,
):  # pragma: no cover - compiled
    """Find every customer's nearest equipment in one pass (k = 1, no distance limit).

    Writes ``j_map[nearest]`` and its distance per customer, and in
    ``out_ties`` how many equipment are that near (within ``tol``); the
    caller collects the rare ties with :func:`grid_knn`. Every customer has a
    result, so no counting pass is needed.
    """
    n = x.size
    m = px.size
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        buf_d = np.empty(m + 1, np.float64)
        buf_j = np.empty(m + 1, np.int64)
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            cnt = _grid_knn_one(
                x[i],
                y[i],
                gx0,
                gy0,
                inv_cell,
                nx,
                ny,
                cell_slot,
                list_start,
                list_j,
                px,
                py,
                1,
                np.inf,
                tol,
                buf_d,
                buf_j,
            )
            out_j[i] = j_map[buf_j[0]]
            out_d[i] = buf_d[0]
            out_ties[i] = cnt


@njit(cache=CACHE, parallel=True, nogil=True)
def grid_knn(
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    cell_slot,
    list_start,
    list_j,
    px,
    py,
    k,
    t2_max,
    tol,
    chunk,
    j_map,
    offsets,
    out_i,
    out_j,
    out_d,
    out_r,
):  # pragma: no cover - compiled
    """Find the k nearest (with ties) of every customer from the cell candidate lists.

    Called twice: with ``offsets`` empty it only counts and returns the number
    of results per chunk of customers; then with the prefix sums in
    ``offsets`` it writes customer, ``j_map[equipment number]``, distance and
    rank (unless ``out_r`` is empty), ordered by customer then (distance,
    equipment number).
    """
    n = x.size
    with_rank = out_r.size > 0
    m = px.size
    nchunks = (n + chunk - 1) // chunk
    counts = np.zeros(nchunks, np.int64)
    fill = offsets.size > 0
    for c in prange(nchunks):
        buf_d = np.empty(m + 1, np.float64)
        buf_j = np.empty(m + 1, np.int64)
        buf_r = np.empty(m + 1, np.int32)
        p = offsets[c] if fill else 0
        total = 0
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            cnt = _grid_knn_one(
                x[i],
                y[i],
                gx0,
                gy0,
                inv_cell,
                nx,
                ny,
                cell_slot,
                list_start,
                list_j,
                px,
                py,
                k,
                t2_max,
                tol,
                buf_d,
                buf_j,
            )
            total += cnt
            if fill:
                _ranks(buf_d, cnt, tol, buf_r)
                for t in range(cnt):
                    out_i[p] = i
                    out_j[p] = j_map[buf_j[t]]
                    out_d[p] = buf_d[t]
                    if with_rank:
                        out_r[p] = buf_r[t]
                    p += 1
        counts[c] = total
    return counts


@njit(cache=CACHE, parallel=True, nogil=True)
def reorder_rows(cust, j, d, r, row_order, n_rows, oc, oj, od, orank):  # pragma: no cover
    """Put result blocks (grouped by customer row) in ``row_order``, into ``o*``.

    ``r``/``orank`` may be empty (no ranks). Used when most customers have
    results, where a comparison sort would dominate; the moves are
    random-access bound, so they run in parallel. The outputs are allocated
    by the caller (numpy asks the kernel for huge pages; at 10 million rows
    faulting in fresh memory costs as much as the moves). Measured against
    the search kernel writing each customer's results straight to their
    id-ordered place: that took 2.1-2.7 s at 10 million instead of 0.8-1.1 s,
    as random writes fault fresh pages in random order; gathering into arrays
    written front to back is the fast way round.
    """
    p_total = cust.size
    has_r = r.size == p_total
    n = row_order.size
    chunk = 1 << 16
    nchunks = (n + chunk - 1) // chunk
    if p_total == n_rows and n == n_rows:
        misplaced = 0  # one row per customer (nearest, k = 1, no ties): cust is 0, 1, 2, ...
        for c in prange(nchunks):
            for t in range(c * chunk, min(p_total, (c + 1) * chunk)):
                if cust[t] != t:
                    misplaced += 1
        if misplaced == 0:
            for c in prange(nchunks):
                for i in range(c * chunk, min(n, (c + 1) * chunk)):
                    row = row_order[i]
                    oc[i] = row
                    oj[i] = j[row]
                    od[i] = d[row]
                    if has_r:
                        orank[i] = r[row]
            return
    start = np.zeros(n_rows + 1, np.int64)
    for t in range(p_total):
        start[cust[t] + 1] += 1
    for i in range(n_rows):
        start[i + 1] += start[i]
    dest = np.zeros(nchunks + 1, np.int64)
    for c in prange(nchunks):
        total = 0
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            row = row_order[i]
            total += start[row + 1] - start[row]
        dest[c + 1] = total
    for c in range(nchunks):
        dest[c + 1] += dest[c]
    for c in prange(nchunks):
        p = dest[c]
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            row = row_order[i]
            for t in range(start[row], start[row + 1]):
                oc[p] = row
                oj[p] = j[t]
                od[p] = d[t]
                if has_r:
                    orank[p] = r[t]
                p += 1


# ------------------------------------------------------------------------- id sorting


@njit(cache=CACHE, nogil=True)
def _lsd_bytes(ku, ki, tu, ti, npass):  # pragma: no cover - compiled
    """Stable LSD radix sort of one bucket on its low ``8 * npass`` bits.

    ``ku``/``ki`` (keys, positions) are sorted with the scratch ``tu``/``ti``;
    returns True when the sorted positions ended up in ``ti``.
    """
    m = ku.size
    cnt = np.empty(257, np.int64)
    in_tmp = False
    for p in range(npass):
        shift = np.uint64(8 * p)
        cnt[:] = 0
        for i in range(m):
            cnt[((ku[i] >> shift) & np.uint64(255)) + np.uint64(1)] += 1
        if cnt[((ku[0] >> shift) & np.uint64(255)) + np.uint64(1)] == m:
            continue  # one digit value: this pass would move nothing
        for d in range(256):
            cnt[d + 1] += cnt[d]
        for i in range(m):
            dig = (ku[i] >> shift) & np.uint64(255)
            q = cnt[dig]
            cnt[dig] = q + 1
            tu[q] = ku[i]
            ti[q] = ki[i]
        ku, tu = tu, ku
        ki, ti = ti, ki
        in_tmp = not in_tmp
    return in_tmp


@njit(cache=CACHE, parallel=True, nogil=True)
def radix_argsort(keys, nchunks):  # pragma: no cover - compiled
    """Stable argsort of int64 ``keys`` (equal keys keep their order).

    Why by hand: numpy's argsort of 10 million int64 takes 0.7 s (1.7 s
    stable) here, single-threaded; this takes about 0.25 s on two cores. One
    parallel pass scatters the keys into about n/1024 buckets by their top
    bits (per-chunk offsets keep it stable), then each bucket, now small
    enough for the cache, is finished by a byte-wise LSD radix sort.
    """
    n = keys.size
    kmin = keys.min()
    base = np.uint64(kmin)
    span = np.uint64(keys.max()) - base  # wraps correctly: the span is < 2**64
    bits = 0
    while bits < 64 and (span >> np.uint64(bits)) > np.uint64(0):
        bits += 1
    top = 0
    while top < 16 and (n >> (top + 10)) > 0:
        top += 1
    top = max(1, min(top, bits)) if bits else 0  # keeps the shift below 64
    low = np.uint64(bits - top)
    nb = 1 << top
    csize = (n + nchunks - 1) // nchunks
    hist = np.zeros((nchunks, nb), np.int64)
    for c in prange(nchunks):
        for i in range(c * csize, min(n, (c + 1) * csize)):
            hist[c, (np.uint64(keys[i]) - base) >> low] += 1
    bstart = np.zeros(nb + 1, np.int64)
    run = 0
    for b in range(nb):  # bucket-major, chunk-minor offsets: the scatter is stable
        bstart[b] = run
        for c in range(nchunks):
            h = hist[c, b]
            hist[c, b] = run
            run += h
    bstart[nb] = run
    u = np.empty(n, np.uint64)
    idx = np.empty(n, np.int64)
    for c in prange(nchunks):
        for i in range(c * csize, min(n, (c + 1) * csize)):
            v = np.uint64(keys[i]) - base
            bucket = v >> low
            q = hist[c, bucket]
            hist[c, bucket] = q + 1
            u[q] = v
            idx[q] = i
    npass = (bits - top + 7) // 8
    if npass == 0:
        return idx
    ngroups = min(nb, 8 * nchunks)
    gsize = (nb + ngroups - 1) // ngroups
    for g in prange(ngroups):
        b0 = g * gsize
        b1 = min(nb, b0 + gsize)
        biggest = 0
        for b in range(b0, b1):
            biggest = max(biggest, bstart[b + 1] - bstart[b])
        tu = np.empty(biggest, np.uint64)
        ti = np.empty(biggest, np.int64)
        for b in range(b0, b1):
            lo = bstart[b]
            m = bstart[b + 1] - lo
            if m < 2:
                continue
            if _lsd_bytes(u[lo : lo + m], idx[lo : lo + m], tu[:m], ti[:m], npass):
                for k in range(m):  # a loop: a slice assignment costs ~2 s of compiling
                    idx[lo + k] = ti[k]
    return idx

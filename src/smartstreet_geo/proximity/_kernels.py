"""Numba kernels of the proximity engine (the hot path).

Everything here works on plain coordinate arrays; nothing creates a shapely
object. Kernels are compiled on first use and cached on disk (``cache=True``),
so only the first run on a machine pays the compile time.

Exactness: a candidate at squared distance ``d2 = dx*dx + dy*dy`` (float64,
``dx = x_customer - x_equipment``) is within radius ``r`` when
``d2 <= (r + tol)**2``; the reported distance is ``sqrt(d2)``. Cell and tree
bounds are only used to skip work, never to decide, and they are padded so
that floating-point rounding in the cell arithmetic can never skip a pair.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# -------------------------------------------------------------------- cell grid over boxes


@njit(cache=True, nogil=True)
def _cell_of(v: float, origin: float, inv_cell: float, n: int) -> int:  # pragma: no cover
    f = (v - origin) * inv_cell
    if f < 0.0:
        return 0
    if f >= n:
        return n - 1
    return int(f)


@njit(cache=True, nogil=True)
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


@njit(cache=True, parallel=True, nogil=True)
def within_count(
    x, y, gx0, gy0, inv_cell, nx, ny, cell_start, exmin, eymin, exmax, eymax, et2, chunk
):  # pragma: no cover - compiled
    """Count, per chunk of customers, the (customer, box) pairs within range.

    Entry arrays (``exmin`` ... ``et2``) are laid out in grid-entry order, so
    the hot loop reads them contiguously. A point box has ``xmin == xmax``, and
    then ``max(xmin - x, x - xmax, 0)`` is exactly ``abs(x - xmin)``.
    """
    n = x.size
    nchunks = (n + chunk - 1) // chunk
    counts = np.zeros(nchunks, np.int64)
    for c in prange(nchunks):
        lo = c * chunk
        hi = min(n, lo + chunk)
        cnt = 0
        for i in range(lo, hi):
            xi = x[i]
            yi = y[i]
            fx = (xi - gx0) * inv_cell
            fy = (yi - gy0) * inv_cell
            if fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny:
                cell = int(fy) * nx + int(fx)
                for k in range(cell_start[cell], cell_start[cell + 1]):
                    dx = max(exmin[k] - xi, xi - exmax[k], 0.0)
                    dy = max(eymin[k] - yi, yi - eymax[k], 0.0)
                    if dx * dx + dy * dy <= et2[k]:
                        cnt += 1
        counts[c] = cnt
    return counts


@njit(cache=True, parallel=True, nogil=True)
def within_fill(
    x,
    y,
    gx0,
    gy0,
    inv_cell,
    nx,
    ny,
    cell_start,
    exmin,
    eymin,
    exmax,
    eymax,
    et2,
    eid,
    chunk,
    offsets,
    out_i,
    out_j,
    out_d,
):  # pragma: no cover - compiled
    """Write the pairs counted by :func:`within_count` (same arguments + outputs).

    Pairs come out ordered by customer, then by box number (``eid``).
    """
    n = x.size
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        lo = c * chunk
        hi = min(n, lo + chunk)
        p = offsets[c]
        for i in range(lo, hi):
            xi = x[i]
            yi = y[i]
            fx = (xi - gx0) * inv_cell
            fy = (yi - gy0) * inv_cell
            if fx >= 0.0 and fx < nx and fy >= 0.0 and fy < ny:
                cell = int(fy) * nx + int(fx)
                for k in range(cell_start[cell], cell_start[cell + 1]):
                    dx = max(exmin[k] - xi, xi - exmax[k], 0.0)
                    dy = max(eymin[k] - yi, yi - eymax[k], 0.0)
                    d2 = dx * dx + dy * dy
                    if d2 <= et2[k]:
                        out_i[p] = i
                        out_j[p] = eid[k]
                        out_d[p] = np.sqrt(d2)
                        p += 1


# -------------------------------------------------------------------- k-d tree over points


@njit(cache=True, nogil=True)
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
        order[lo:hi] = seg[srt]
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


@njit(cache=True, nogil=True)
def _kd_knn_one(
    xi, yi, px, py, order, start, stop, left, right, bxmin, bymin, bxmax, bymax,
    k, t2_max, tol, buf_d, buf_j, stack, seed2,
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
            # insert keeping (distance, number) order
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


@njit(cache=True, nogil=True)
def _seed2(xi, yi, px, py, prev_j, prev_cnt, k, tol, tmp):  # pragma: no cover - compiled
    """Upper bound of ``(d_k + tol)**2`` from the previous customer's neighbours."""
    if prev_cnt < k:
        return np.inf
    for t in range(prev_cnt):
        j = prev_j[t]
        dx = xi - px[j]
        dy = yi - py[j]
        tmp[t] = np.sqrt(dx * dx + dy * dy)
    if k == 1:
        best = tmp[0]
        for t in range(1, prev_cnt):
            best = min(best, tmp[t])
    else:
        best = np.sort(tmp[:prev_cnt])[k - 1]
    lim = best + tol
    return lim * lim * (1.0 + 1e-12)


@njit(cache=True, nogil=True)
def _ranks(buf_d, cnt, tol, out_rank):  # pragma: no cover - compiled
    """Competition ranks: 1 + the number of distances smaller by more than ``tol``."""
    first = 0
    for t in range(cnt):
        while buf_d[first] < buf_d[t] - tol:
            first += 1
        out_rank[t] = first + 1


@njit(cache=True, parallel=True, nogil=True)
def kd_knn(
    x, y, px, py, order, start, stop, left, right, bxmin, bymin, bxmax, bymax,
    k, kcap, t2_max, tol, chunk,
):  # pragma: no cover - compiled
    """k nearest points (with ties) for every customer, up to ``kcap`` stored each.

    Returns ``count`` (int64 per customer: how many kept, possibly > kcap),
    ``nbr`` (int32, n x kcap), ``dist`` (n x kcap) and ``rank`` (int32, n x kcap).
    Customers with ``count > kcap`` are recomputed by :func:`kd_knn_rows`.
    """
    n = x.size
    m = px.size
    count = np.zeros(n, np.int64)
    nbr = np.full((n, kcap), -1, np.int32)
    dist = np.full((n, kcap), np.nan)
    rank = np.zeros((n, kcap), np.int32)
    nchunks = (n + chunk - 1) // chunk
    for c in prange(nchunks):
        buf_d = np.empty(m + 1, np.float64)
        buf_j = np.empty(m + 1, np.int64)
        buf_r = np.empty(m + 1, np.int32)
        stack = np.empty(256, np.int64)
        prev_j = np.empty(m + 1, np.int64)
        tmp = np.empty(m + 1, np.float64)
        prev_cnt = 0
        lo = c * chunk
        hi = min(n, lo + chunk)
        for i in range(lo, hi):
            seed2 = _seed2(x[i], y[i], px, py, prev_j, prev_cnt, k, tol, tmp)
            cnt = _kd_knn_one(
                x[i], y[i], px, py, order, start, stop, left, right,
                bxmin, bymin, bxmax, bymax, k, t2_max, tol, buf_d, buf_j, stack, seed2,
            )
            for t in range(cnt):
                prev_j[t] = buf_j[t]
            prev_cnt = cnt
            count[i] = cnt
            if cnt <= kcap:
                _ranks(buf_d, cnt, tol, buf_r)
                for t in range(cnt):
                    nbr[i, t] = buf_j[t]
                    dist[i, t] = buf_d[t]
                    rank[i, t] = buf_r[t]
    return count, nbr, dist, rank


@njit(cache=True, nogil=True)
def kd_knn_rows(
    x, y, rows, px, py, order, start, stop, left, right, bxmin, bymin, bxmax, bymax,
    k, t2_max, tol,
):  # pragma: no cover - compiled
    """Like :func:`kd_knn` for the customers ``rows``, every tie stored.

    Returns flat ``row``, ``nbr``, ``dist``, ``rank`` arrays.
    """
    m = px.size
    buf_d = np.empty(m + 1, np.float64)
    buf_j = np.empty(m + 1, np.int64)
    buf_r = np.empty(m + 1, np.int32)
    stack = np.empty(256, np.int64)
    cap = rows.size * (k + 4) + 16
    o_row = np.empty(cap, np.int64)
    o_nbr = np.empty(cap, np.int32)
    o_d = np.empty(cap, np.float64)
    o_r = np.empty(cap, np.int32)
    p = 0
    for t in range(rows.size):
        i = rows[t]
        cnt = _kd_knn_one(
            x[i], y[i], px, py, order, start, stop, left, right,
            bxmin, bymin, bxmax, bymax, k, t2_max, tol, buf_d, buf_j, stack, np.inf,
        )
        _ranks(buf_d, cnt, tol, buf_r)
        if p + cnt > cap:
            cap = 2 * (p + cnt)
            o_row = _grow_i64(o_row, p, cap)
            o_nbr = _grow_i32(o_nbr, p, cap)
            o_d = _grow_f64(o_d, p, cap)
            o_r = _grow_i32(o_r, p, cap)
        for s in range(cnt):
            o_row[p] = i
            o_nbr[p] = buf_j[s]
            o_d[p] = buf_d[s]
            o_r[p] = buf_r[s]
            p += 1
    return o_row[:p], o_nbr[:p], o_d[:p], o_r[:p]


@njit(cache=True, nogil=True)
def _grow_i64(a, used, cap):  # pragma: no cover - compiled
    b = np.empty(cap, np.int64)
    b[:used] = a[:used]
    return b


@njit(cache=True, nogil=True)
def _grow_i32(a, used, cap):  # pragma: no cover - compiled
    b = np.empty(cap, np.int32)
    b[:used] = a[:used]
    return b


@njit(cache=True, nogil=True)
def _grow_f64(a, used, cap):  # pragma: no cover - compiled
    b = np.empty(cap, np.float64)
    b[:used] = a[:used]
    return b


# -------------------------------------------------------------------- ordering helpers


@njit(cache=True, nogil=True)
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


@njit(cache=True, nogil=True)
def rank_within_blocks(block_start, block_len, dist, tol, out_rank):  # pragma: no cover
    """Tie-aware competition ranks of ``dist`` within blocks sorted by distance."""
    for b in range(block_start.size):
        s = block_start[b]
        first = s
        for t in range(s, s + block_len[b]):
            while dist[first] < dist[t] - tol:
                first += 1
            out_rank[t] = first - s + 1

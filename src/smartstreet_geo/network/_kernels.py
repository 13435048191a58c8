# mypy: allow-untyped-defs
"""Compiled (numba) kernels of the network subpackage.

Graph kernels work on an undirected multigraph in compressed sparse row form
(``indptr``, ``nbr``, ``eid``: the neighbours of node ``v`` are
``nbr[indptr[v]:indptr[v + 1]]``, reached over edges ``eid[...]``), so that
parallel cables between the same two nodes stay distinct edges. Geometry
kernels work on cable segments (``x0, y0, x1, y1``) bucketed in a sparse
square grid. Nothing here creates a Python object per node, edge or customer.

Kernels are compiled on first use and cached on disk (``cache=CACHE``: a writable
folder is chosen by :mod:`smartstreet_geo._numba_cache`).
"""

from __future__ import annotations

from .._numba_cache import CACHE  # first: it may set NUMBA_CACHE_DIR for numba

# isort: split
import numpy as np
from numba import njit, prange

#: Equally-near edges kept per point by :func:`nearest_two_groups`.
TIE_SLOTS = 8

# --------------------------------------------------------------------------- graph


@njit(cache=CACHE, nogil=True)
def build_csr(n, u, v, keep):  # pragma: no cover - compiled
    """Undirected CSR over ``n`` nodes from edge end arrays ``u``, ``v``.

    Edge ``k`` (with ``keep[k]``) appears in the neighbour lists of both ends
    with id ``k``; neighbours of a node are in increasing edge order.
    """
    m = u.shape[0]
    indptr = np.zeros(n + 1, np.int64)
    for k in range(m):
        if keep[k]:
            indptr[u[k] + 1] += 1
            indptr[v[k] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    pos = indptr[:-1].copy()
    nbr = np.empty(indptr[n], np.int32)
    eid = np.empty(indptr[n], np.int32)
    for k in range(m):
        if not keep[k]:
            continue
        a = u[k]
        b = v[k]
        nbr[pos[a]] = b
        eid[pos[a]] = k
        pos[a] += 1
        nbr[pos[b]] = a
        eid[pos[b]] = k
        pos[b] += 1
    return indptr, nbr, eid


@njit(cache=CACHE, nogil=True)
def dfs_lowlink(indptr, nbr, eid, root):  # pragma: no cover - compiled
    """Search depth first from ``root`` (iteratively), with Tarjan low-links.

    Returns ``pre`` (preorder number, -1 when unreached), ``order`` (node at
    each preorder position; only the first ``n_reached`` are set), ``parent``,
    ``pedge`` (the tree edge to the parent, -1 for the root and unreached
    nodes), ``size`` (nodes in the subtree) and ``low`` (the smallest preorder
    number reachable from the subtree over one non-tree edge), and
    ``n_reached``. Only the parent *edge* is skipped, so a parallel edge is a
    back edge and makes its pair of nodes 2-edge-connected.
    """
    n = indptr.shape[0] - 1
    pre = np.full(n, -1, np.int32)
    order = np.full(n, -1, np.int32)
    parent = np.full(n, -1, np.int32)
    pedge = np.full(n, -1, np.int32)
    size = np.ones(n, np.int32)
    low = np.full(n, -1, np.int32)
    ptr = indptr[:-1].copy()
    stack = np.empty(n, np.int32)
    sp = 0
    counter = 0
    pre[root] = 0
    low[root] = 0
    order[0] = root
    counter = 1
    stack[0] = root
    sp = 1
    while sp > 0:
        v = stack[sp - 1]
        k = ptr[v]
        if k < indptr[v + 1]:
            ptr[v] = k + 1
            e = eid[k]
            if e == pedge[v]:
                continue
            w = nbr[k]
            if pre[w] == -1:
                pre[w] = counter
                low[w] = counter
                order[counter] = w
                counter += 1
                parent[w] = v
                pedge[w] = e
                stack[sp] = w
                sp += 1
            elif pre[w] < low[v]:
                low[v] = pre[w]
        else:
            sp -= 1
            p = parent[v]
            if p >= 0:
                if low[v] < low[p]:
                    low[p] = low[v]
                size[p] += size[v]
    return pre, order, parent, pedge, size, low, counter


@njit(cache=CACHE, nogil=True)
def cut_intervals(kind, idx, eu, ev, pre, order, pedge, size, low):  # pragma: no cover
    """Preorder intervals of the nodes that lose supply, one isolation at a time.

    ``kind[q]`` is 0 for an edge (``idx[q]`` an edge number) and 1 for a node.
    Returns ``qptr`` (intervals of query ``q`` are ``qptr[q]:qptr[q+1]``),
    ``start``, ``stop`` (half-open preorder intervals, sorted, merged) and
    ``full`` (1 when the query's cut is exactly one whole subtree, so that
    cuts of such queries may be combined by union).
    """
    nq = kind.shape[0]
    qptr = np.zeros(nq + 1, np.int64)
    cap = 16
    start = np.empty(cap, np.int32)
    stop = np.empty(cap, np.int32)
    full = np.zeros(nq, np.int8)
    m = 0
    for q in range(nq):
        i = idx[q]
        if kind[q] == 0:  # edge: a bridge cuts the child's subtree, anything else nothing
            c = -1
            if i >= 0:
                if pedge[eu[i]] == i:
                    c = eu[i]
                elif pedge[ev[i]] == i:
                    c = ev[i]
            if c >= 0 and low[c] >= pre[c]:
                if m + 1 > cap:
                    cap *= 2
                    start = _grow(start, cap)
                    stop = _grow(stop, cap)
                start[m] = pre[c]
                stop[m] = pre[c] + size[c]
                m += 1
                full[q] = 1
            elif c < 0 and (i < 0 or pre[eu[i]] < 0):
                full[q] = 1  # open or unfed edge: isolating it changes nothing
        else:  # node: itself, and each child subtree that has no way round it
            v = i
            if v >= 0 and pre[v] >= 0:
                pv = pre[v]
                end = pv + size[v]
                cur_a = pv
                cur_b = pv + 1
                whole = True
                pos = pv + 1
                while pos < end:
                    c = order[pos]
                    if low[c] >= pv:
                        if pos == cur_b:
                            cur_b = pos + size[c]
                        else:  # pragma: no cover - merged runs are contiguous
                            if m + 1 > cap:
                                cap *= 2
                                start = _grow(start, cap)
                                stop = _grow(stop, cap)
                            start[m] = cur_a
                            stop[m] = cur_b
                            m += 1
                            cur_a = pos
                            cur_b = pos + size[c]
                    else:
                        whole = False
                        if cur_b > cur_a:
                            if m + 1 > cap:
                                cap *= 2
                                start = _grow(start, cap)
                                stop = _grow(stop, cap)
                            start[m] = cur_a
                            stop[m] = cur_b
                            m += 1
                        cur_a = pos + size[c]
                        cur_b = cur_a
                    pos += size[c]
                if cur_b > cur_a:
                    if m + 1 > cap:
                        cap *= 2
                        start = _grow(start, cap)
                        stop = _grow(stop, cap)
                    start[m] = cur_a
                    stop[m] = cur_b
                    m += 1
                if whole:
                    full[q] = 1
            else:
                full[q] = 1  # unfed node
        qptr[q + 1] = m
    return qptr, start[:m].copy(), stop[:m].copy(), full


@njit(cache=CACHE, nogil=True)
def _grow(a, cap):  # pragma: no cover - compiled
    # A loop, not ``b[: a.shape[0]] = a``: a slice assignment brings in numba's shape-error
    # formatting, about 2 s of compiling on the first run for nothing.
    b = np.empty(cap, a.dtype)
    for k in range(a.shape[0]):
        b[k] = a[k]
    return b


@njit(cache=CACHE, nogil=True)
def reach(indptr, nbr, eid, root, edge_off, node_off):  # pragma: no cover - compiled
    """Nodes reachable from ``root`` without edges/nodes flagged off (breadth first)."""
    n = indptr.shape[0] - 1
    seen = np.zeros(n, np.bool_)
    if node_off[root]:
        return seen
    queue = np.empty(n, np.int32)
    head = 0
    tail = 1
    queue[0] = root
    seen[root] = True
    while head < tail:
        v = queue[head]
        head += 1
        for k in range(indptr[v], indptr[v + 1]):
            e = eid[k]
            if e < edge_off.shape[0] and edge_off[e]:
                continue
            w = nbr[k]
            if seen[w] or node_off[w]:
                continue
            seen[w] = True
            queue[tail] = w
            tail += 1
    return seen


@njit(cache=CACHE, nogil=True)
def components(indptr, nbr, blocked):  # pragma: no cover - compiled
    """Connected-component label of every node not ``blocked`` (blocked nodes: -1).

    Paths never pass through a blocked node. Labels number components in
    order of their lowest node.
    """
    n = indptr.shape[0] - 1
    comp = np.full(n, -1, np.int32)
    queue = np.empty(n, np.int32)
    label = 0
    for s in range(n):
        if blocked[s] or comp[s] >= 0:
            continue
        comp[s] = label
        head = 0
        tail = 1
        queue[0] = s
        while head < tail:
            v = queue[head]
            head += 1
            for k in range(indptr[v], indptr[v + 1]):
                w = nbr[k]
                if comp[w] < 0 and not blocked[w]:
                    comp[w] = label
                    queue[tail] = w
                    tail += 1
        label += 1
    return comp, label


# --------------------------------------------------------------------------- geometry


@njit(cache=CACHE, nogil=True)
def _seg_dist(px, py, x0, y0, x1, y1):  # pragma: no cover - compiled
    dx = x1 - x0
    dy = y1 - y0
    L2 = dx * dx + dy * dy
    t = 0.0
    if L2 > 0.0:
        t = ((px - x0) * dx + (py - y0) * dy) / L2
        if t < 0.0:
            t = 0.0
        elif t > 1.0:
            t = 1.0
    ex = x0 + t * dx - px
    ey = y0 + t * dy - py
    return np.sqrt(ex * ex + ey * ey)


@njit(cache=CACHE, nogil=True)
def grid_entries(x0, y0, x1, y1, gx0, gy0, cell, nx):  # pragma: no cover - compiled
    """(cell key, segment) pairs: each segment in every cell its bounding box overlaps."""
    m = x0.shape[0]
    count = 0
    for s in range(m):
        ix0 = int(np.floor((min(x0[s], x1[s]) - gx0) / cell))
        ix1 = int(np.floor((max(x0[s], x1[s]) - gx0) / cell))
        iy0 = int(np.floor((min(y0[s], y1[s]) - gy0) / cell))
        iy1 = int(np.floor((max(y0[s], y1[s]) - gy0) / cell))
        count += (ix1 - ix0 + 1) * (iy1 - iy0 + 1)
    keys = np.empty(count, np.int64)
    segs = np.empty(count, np.int32)
    j = 0
    for s in range(m):
        ix0 = int(np.floor((min(x0[s], x1[s]) - gx0) / cell))
        ix1 = int(np.floor((max(x0[s], x1[s]) - gx0) / cell))
        iy0 = int(np.floor((min(y0[s], y1[s]) - gy0) / cell))
        iy1 = int(np.floor((max(y0[s], y1[s]) - gy0) / cell))
        for iy in range(iy0, iy1 + 1):
            for ix in range(ix0, ix1 + 1):
                keys[j] = iy * nx + ix
                segs[j] = s
                j += 1
    return keys, segs


@njit(cache=CACHE, nogil=True)
def _cell_range(ukeys, key):  # pragma: no cover - compiled
    """Row of ``kstart`` for a cell key: the key itself in a dense grid (no ``ukeys``)."""
    if ukeys.shape[0] == 0:
        return key
    lo = np.searchsorted(ukeys, key)
    if lo < ukeys.shape[0] and ukeys[lo] == key:
        return lo
    return -1


@njit(cache=CACHE, nogil=True)
def _bound(px, py, gx0, gy0, cell, cx, cy, r, nx, ny):  # pragma: no cover - compiled
    """Distance from the point to the outside of the searched block of cells."""
    b = np.inf
    if cx - r > 0:
        b = min(b, px - (gx0 + (cx - r) * cell))
    if cx + r < nx - 1:
        b = min(b, gx0 + (cx + r + 1) * cell - px)
    if cy - r > 0:
        b = min(b, py - (gy0 + (cy - r) * cell))
    if cy + r < ny - 1:
        b = min(b, gy0 + (cy + r + 1) * cell - py)
    return b


@njit(cache=CACHE, nogil=True)
def _keep_ties(te, td, nt, limit):  # pragma: no cover - compiled
    m = 0
    for h in range(nt):
        if td[h] <= limit:
            te[m] = te[h]
            td[m] = td[h]
            m += 1
    return m


@njit(cache=CACHE, parallel=True)
def nearest_two_groups(
    px,
    py,
    x0,
    y0,
    x1,
    y1,
    sgroup,
    sedge,
    ukeys,
    kstart,
    segs,
    gx0,
    gy0,
    cell,
    nx,
    ny,
    max_d,
    extra,
    tol,
):  # pragma: no cover - compiled
    """Nearest segment of each point, the nearest of another group, and equally near edges.

    For point ``i`` returns ``s1[i]`` (nearest segment within ``max_d``, -1 if
    none; ties go to the lower segment number), ``d1[i]``, ``d2[i]`` (the
    distance to the nearest segment whose group differs from ``s1``'s group,
    searched up to ``max(max_d, d1 + extra)``; ``inf`` when there is none that
    close), and the distinct edges with a segment within ``d1 + tol``:
    ``tie_n[i]`` of them in ``tie_e[i, :tie_n[i]]`` (``tie_n = TIE_SLOTS + 1``
    when there were more than fit).
    """
    n = px.shape[0]
    s1 = np.full(n, -1, np.int32)
    d1 = np.full(n, np.inf)
    d2 = np.full(n, np.inf)
    tie_n = np.zeros(n, np.int8)
    tie_e = np.full((n, TIE_SLOTS), -1, np.int32)
    gxmax = gx0 + nx * cell
    gymax = gy0 + ny * cell
    for i in prange(n):
        x = px[i]
        y = py[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        ox = max(gx0 - x, 0.0, x - gxmax)
        oy = max(gy0 - y, 0.0, y - gymax)
        if np.sqrt(ox * ox + oy * oy) > max_d:
            continue
        cx = int(np.floor((x - gx0) / cell))
        cy = int(np.floor((y - gy0) / cell))
        best = np.inf
        bseg = -1
        bgrp = -2
        other = np.inf
        te = np.empty(TIE_SLOTS, np.int32)
        td = np.empty(TIE_SLOTS)
        nt = 0
        spill = False
        r = 0
        while True:
            lo_x = max(cx - r, 0)
            hi_x = min(cx + r, nx - 1)
            lo_y = max(cy - r, 0)
            hi_y = min(cy + r, ny - 1)
            need = max_d
            if bseg >= 0 and best <= max_d:
                need = max(min(other, max(max_d, best + extra)), best + tol)
            for iy in range(lo_y, hi_y + 1):
                ring_y = iy == cy - r or iy == cy + r
                ey = max(gy0 + iy * cell - y, 0.0, y - (gy0 + (iy + 1) * cell))
                for ix in range(lo_x, hi_x + 1):
                    if not ring_y and ix != cx - r and ix != cx + r:
                        continue
                    ex = max(gx0 + ix * cell - x, 0.0, x - (gx0 + (ix + 1) * cell))
                    if ex * ex + ey * ey > need * need:
                        continue  # the whole cell is further than anything still needed
                    k = _cell_range(ukeys, iy * nx + ix)
                    if k < 0:
                        continue
                    for j in range(kstart[k], kstart[k + 1]):
                        s = segs[j]
                        d = _seg_dist(x, y, x0[s], y0[s], x1[s], y1[s])
                        g = sgroup[s]
                        if d < best or (d == best and s < bseg):
                            if g != bgrp and best < other:
                                other = best
                            if d < best:
                                nt = _keep_ties(te, td, nt, d + tol)
                            best = d
                            bseg = s
                            bgrp = g
                        elif g != bgrp and d < other:
                            other = d
                        if d <= best + tol:
                            e = sedge[s]
                            found = False
                            for h in range(nt):
                                if te[h] == e:
                                    found = True
                                    if d < td[h]:
                                        td[h] = d
                                    break
                            if not found:
                                if nt < TIE_SLOTS:
                                    te[nt] = e
                                    td[nt] = d
                                    nt += 1
                                else:
                                    spill = True
            b = _bound(x, y, gx0, gy0, cell, cx, cy, r, nx, ny)
            need = max_d
            if bseg >= 0 and best <= max_d:
                need = max(min(other, max(max_d, best + extra)), best + tol)
            if b > need or (lo_x == 0 and lo_y == 0 and hi_x == nx - 1 and hi_y == ny - 1):
                break
            r += 1
        if bseg >= 0 and best <= max_d:
            s1[i] = bseg
            d1[i] = best
            if other <= max(max_d, best + extra):
                d2[i] = other
            nt = _keep_ties(te, td, nt, best + tol)
            tie_n[i] = TIE_SLOTS + 1 if spill else nt
            for h in range(nt):
                tie_e[i, h] = te[h]
    return s1, d1, d2, tie_n, tie_e


@njit(cache=CACHE, parallel=True)
def nearest_in_set(
    px,
    py,
    target,
    x0,
    y0,
    x1,
    y1,
    sgroup,
    gptr,
    gmembers,
    ukeys,
    kstart,
    segs,
    gx0,
    gy0,
    cell,
    nx,
    ny,
    cap,
):  # pragma: no cover - compiled
    """Distance from each point to the nearest segment whose group contains ``target[i]``.

    ``gmembers[gptr[g]:gptr[g+1]]`` lists the circuits of group ``g``. Searched
    up to ``cap`` metres (``inf`` beyond); ``target[i] < 0`` gives ``nan``.
    """
    n = px.shape[0]
    out = np.full(n, np.inf)
    gxmax = gx0 + nx * cell
    gymax = gy0 + ny * cell
    for i in prange(n):
        t = target[i]
        x = px[i]
        y = py[i]
        if t < 0 or not (np.isfinite(x) and np.isfinite(y)):
            out[i] = np.nan
            continue
        ox = max(gx0 - x, 0.0, x - gxmax)
        oy = max(gy0 - y, 0.0, y - gymax)
        if np.sqrt(ox * ox + oy * oy) > cap:
            continue
        cx = int(np.floor((x - gx0) / cell))
        cy = int(np.floor((y - gy0) / cell))
        best = np.inf
        r = 0
        while True:
            lo_x = max(cx - r, 0)
            hi_x = min(cx + r, nx - 1)
            lo_y = max(cy - r, 0)
            hi_y = min(cy + r, ny - 1)
            for iy in range(lo_y, hi_y + 1):
                ring_y = iy == cy - r or iy == cy + r
                for ix in range(lo_x, hi_x + 1):
                    if not ring_y and ix != cx - r and ix != cx + r:
                        continue
                    k = _cell_range(ukeys, iy * nx + ix)
                    if k < 0:
                        continue
                    for j in range(kstart[k], kstart[k + 1]):
                        s = segs[j]
                        g = sgroup[s]
                        if g < 0:
                            continue
                        hit = False
                        for h in range(gptr[g], gptr[g + 1]):
                            if gmembers[h] == t:
                                hit = True
                                break
                        if not hit:
                            continue
                        d = _seg_dist(x, y, x0[s], y0[s], x1[s], y1[s])
                        if d < best:
                            best = d
            b = _bound(x, y, gx0, gy0, cell, cx, cy, r, nx, ny)
            if b > min(best, cap) or (
                lo_x == 0 and lo_y == 0 and hi_x == nx - 1 and hi_y == ny - 1
            ):
                break
            r += 1
        if best <= cap:
            out[i] = best
    return out


@njit(cache=CACHE, nogil=True)
def _within_one(x, y, r, x0, y0, x1, y1, sedge, ukeys, kstart, segs, gx0, gy0, cell, nx, ny, buf):
    # pragma: no cover - compiled
    lo_x = max(int(np.floor((x - r - gx0) / cell)), 0)
    hi_x = min(int(np.floor((x + r - gx0) / cell)), nx - 1)
    lo_y = max(int(np.floor((y - r - gy0) / cell)), 0)
    hi_y = min(int(np.floor((y + r - gy0) / cell)), ny - 1)
    count = 0
    for iy in range(lo_y, hi_y + 1):
        for ix in range(lo_x, hi_x + 1):
            k = _cell_range(ukeys, iy * nx + ix)
            if k < 0:
                continue
            for j in range(kstart[k], kstart[k + 1]):
                s = segs[j]
                if _seg_dist(x, y, x0[s], y0[s], x1[s], y1[s]) <= r:
                    e = sedge[s]
                    seen = False
                    for h in range(count):
                        if buf[h] == e:
                            seen = True
                            break
                    if not seen and count < buf.shape[0]:
                        buf[count] = e
                        count += 1
    return count


@njit(cache=CACHE, parallel=True)
def edges_within(
    px, py, radius, x0, y0, x1, y1, sedge, ukeys, kstart, segs, gx0, gy0, cell, nx, ny
):
    # pragma: no cover - compiled
    """Every distinct edge with a segment within ``radius[i]`` of point ``i``.

    Returns ``ptr`` (edges of point ``i`` are ``found[ptr[i]:ptr[i+1]]``, in the
    order first met) and ``found``. At most 256 edges per point are kept.
    """
    n = px.shape[0]
    counts = np.zeros(n + 1, np.int64)
    for i in prange(n):
        if np.isfinite(radius[i]):
            buf = np.empty(256, np.int64)
            counts[i + 1] = _within_one(
                px[i],
                py[i],
                radius[i],
                x0,
                y0,
                x1,
                y1,
                sedge,
                ukeys,
                kstart,
                segs,
                gx0,
                gy0,
                cell,
                nx,
                ny,
                buf,
            )
    ptr = np.cumsum(counts)
    found = np.empty(ptr[n], np.int64)
    for i in prange(n):
        if counts[i + 1] > 0:
            buf = np.empty(256, np.int64)
            c = _within_one(
                px[i],
                py[i],
                radius[i],
                x0,
                y0,
                x1,
                y1,
                sedge,
                ukeys,
                kstart,
                segs,
                gx0,
                gy0,
                cell,
                nx,
                ny,
                buf,
            )
            for k in range(c):  # a loop: a slice assignment costs ~2 s of compiling
                found[ptr[i] + k] = buf[k]
    return ptr, found

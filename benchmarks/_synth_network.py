"""A synthetic LV network with true connectivity, for benchmarks (vectorised, seeded).

Towns are jittered street grids (blocks about 100 m). Substations sit at about
one junction in 40; each junction is fed from the nearest substation along the
streets by a shortest-path forest with random street weights, so feeder
territories are irregular and interleave. A feeder (circuit) is everything
hanging off one street leaving a substation. Every street block carries one
cable, a couple of metres off the centre line on a random side, with a service
joint every ~8 m:

* a block on the supply tree is cabled junction to junction;
* any other block is fed from one end (chosen at random) and ends in a
  normally-open link to the junction at the other end (0.5% of them are
  closed: rings between feeders, sometimes between substations).

Houses line both sides of each block (about 11 m apart, 7-16 m back from the
centre line; 10% are blocks of 2-8 flats at one point) and connect to the
nearest joint of their own street's cable -- not necessarily the nearest cable:
corner houses are often nearer the cable of the cross street, which at a
feeder boundary belongs to another circuit. That is what makes geometric
inference hard here.

Returns plain arrays (node numbers, coordinates, circuit numbers); the
benchmark turns them into frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

BLOCK = 100.0  # street spacing, metres
JOINT = 8.0  # service joint spacing along a cable
HOUSE = 11.0  # house spacing along a street side
CUSTOMERS_PER_BLOCK = 19.5  # measured for the parameters below (used to size the grid)


@dataclass
class SynthNetwork:
    n_nodes: int
    edge_from: I64
    edge_to: I64
    edge_open: B
    edge_circuit: I64  # circuit number of the cable (label), -1 for none
    x0: F64
    y0: F64
    x1: F64
    y1: F64
    sub_node: I64  # busbar node of each substation
    circuit_sub: I64  # substation of each circuit
    cust_node: I64  # true connection node
    cust_circuit: I64  # true circuit (of the cable the customer hangs off)
    cust_x: F64
    cust_y: F64

    @property
    def n_edges(self) -> int:
        return len(self.edge_from)


def make(n_customers: int, *, seed: int = 0, ring_fraction: float = 0.005) -> SynthNetwork:
    rng = np.random.default_rng(seed)
    n_blocks_needed = n_customers / CUSTOMERS_PER_BLOCK
    per = int(min(60, max(4, np.ceil(np.sqrt(n_blocks_needed / 2.0)))))  # junctions a side
    towns = int(np.ceil(n_blocks_needed / (2 * per * (per - 1))))
    t_side = int(np.ceil(np.sqrt(towns)))

    # ---- junctions
    xs, ys = [], []
    a_list, b_list = [], []
    base = 0
    for t in range(towns):
        tx, ty = (t % t_side) * (per + 10) * BLOCK, (t // t_side) * (per + 10) * BLOCK
        i, j = np.meshgrid(np.arange(per), np.arange(per), indexing="ij")
        i, j = i.ravel(), j.ravel()
        xs.append(tx + i * BLOCK + rng.uniform(-15, 15, i.size))
        ys.append(ty + j * BLOCK + rng.uniform(-15, 15, i.size))
        node = base + i * per + j
        h = i < per - 1
        v = j < per - 1
        a_list += [node[h], node[v]]
        b_list += [node[h] + per, node[v] + 1]
        base += per * per
    jx = 380_000.0 + np.concatenate(xs)
    jy = 300_000.0 + np.concatenate(ys)
    n_j = base
    ba = np.concatenate(a_list)
    bb = np.concatenate(b_list)
    n_b = len(ba)
    blen = np.hypot(jx[bb] - jx[ba], jy[bb] - jy[ba])

    # ---- substations and the supply forest (random street weights: irregular territories)
    per_town = max(1, per * per // 40)  # every town has its substations
    subs = np.sort(
        np.concatenate(
            [t * per * per + rng.choice(per * per, per_town, replace=False) for t in range(towns)]
        )
    )
    n_sub = len(subs)
    w = blen * rng.uniform(0.5, 1.5, n_b)
    g = sp.coo_matrix((np.r_[w, w], (np.r_[ba, bb], np.r_[bb, ba])), shape=(n_j, n_j)).tocsr()
    _dist, pred, _src = dijkstra(
        g, directed=True, indices=subs, return_predecessors=True, min_only=True
    )
    pred = pred.astype(np.int64)
    is_sub = np.zeros(n_j, bool)
    is_sub[subs] = True
    # feeder head junction of every junction: the ancestor whose parent is a substation
    up = np.where(is_sub | (pred < 0), np.arange(n_j), pred)
    up = np.where(~is_sub & (pred >= 0) & is_sub[np.maximum(pred, 0)], np.arange(n_j), up)
    for _ in range(64):
        nxt = up[up]
        if np.array_equal(nxt, up):
            break
        up = nxt
    head_of = np.where(is_sub, -1, up)  # -1 for substations (and unreached)
    sub_index = np.full(n_j, -1, np.int64)
    sub_index[subs] = np.arange(n_sub)
    root_of = np.where(is_sub, np.arange(n_j), pred[np.maximum(head_of, 0)])
    sub_of = np.where(head_of >= 0, sub_index[np.maximum(root_of, 0)], sub_index)

    # ---- blocks: tree or not, fed end
    key = np.minimum(ba, bb) * n_j + np.maximum(ba, bb)
    child = np.flatnonzero(pred >= 0)
    tkey = np.minimum(child, pred[child]) * n_j + np.maximum(child, pred[child])
    order = np.argsort(key)
    pos = np.searchsorted(key[order], tkey)
    tree_block = np.zeros(n_b, bool)
    tree_block[order[pos]] = True
    tree_child = np.full(n_b, -1, np.int64)
    tree_child[order[pos]] = child
    flip = rng.random(n_b) < 0.5
    fed = np.where(tree_block, np.where(tree_child == bb, ba, bb), np.where(flip, bb, ba))
    far = np.where(fed == ba, bb, ba)
    # circuits: (substation, head junction), or a block leaving a substation directly
    head_j = np.where(tree_block, head_of[tree_child], head_of[fed])
    own = head_j < 0  # a non-tree block fed straight from a busbar: a circuit of its own
    ckey = np.where(own, -(np.arange(n_b) + 1), head_j)
    uniq, circuit = np.unique(ckey, return_inverse=True)
    circuit = circuit.astype(np.int64)
    circuit_sub = np.zeros(len(uniq), np.int64)
    circuit_sub[circuit] = np.where(own, sub_index[fed], sub_of[np.maximum(head_j, 0)])

    # ---- cables: joints along each block, offset to one side
    k = np.maximum(2, np.rint(blen / JOINT).astype(np.int64))  # segments per block
    side_sign = np.where(rng.random(n_b) < 0.5, -1.0, 1.0)
    ux = (jx[far] - jx[fed]) / blen
    uy = (jy[far] - jy[fed]) / blen
    px, py = -uy * side_sign, ux * side_sign  # unit normal towards the cable side
    n_int = k - 1  # interior joints per block
    first_joint = n_j + np.cumsum(n_int) - n_int
    n_nodes = int(n_j + n_int.sum())
    rep = np.repeat(np.arange(n_b), n_int)
    jpos = np.arange(len(rep)) - np.repeat(first_joint - n_j, n_int) + 1  # 1..k-1
    t = jpos / k[rep]
    node_x = np.empty(n_nodes)
    node_y = np.empty(n_nodes)
    node_x[:n_j], node_y[:n_j] = jx, jy
    node_x[n_j:] = jx[fed[rep]] + t * blen[rep] * ux[rep] + 2.0 * px[rep]
    node_y[n_j:] = jy[fed[rep]] + t * blen[rep] * uy[rep] + 2.0 * py[rep]
    # chain per block: fed junction, joints 1..k-1, far junction (last link open unless tree)
    seg_block = np.repeat(np.arange(n_b), k)
    sidx = np.arange(len(seg_block)) - np.repeat(np.cumsum(k) - k, k)  # 0..k-1
    start = np.where(sidx == 0, fed[seg_block], first_joint[seg_block] + sidx - 1)
    end = np.where(sidx == k[seg_block] - 1, far[seg_block], first_joint[seg_block] + sidx)
    last = sidx == k[seg_block] - 1
    closed_ring = rng.random(n_b) < ring_fraction
    is_open = last & ~tree_block[seg_block] & ~closed_ring[seg_block]
    edge_circuit = circuit[seg_block]

    # ---- customers: houses on both sides, connected to their own street's cable
    usable = np.maximum(blen - 20.0, 0.0)
    per_side = np.maximum(np.floor(usable / HOUSE).astype(np.int64), 1)
    hb = np.repeat(np.arange(n_b), 2 * per_side)
    counts = np.repeat(per_side, 2)
    side_of = np.repeat(np.tile([1.0, -1.0], n_b), counts)
    within = np.arange(len(hb)) - np.repeat(np.cumsum(counts) - counts, counts)
    along = 10.0 + (within + rng.uniform(0.25, 0.75, len(hb))) * (usable[hb] / per_side[hb])
    setback = rng.uniform(7.0, 16.0, len(hb))
    hx = jx[fed[hb]] + along * ux[hb] + side_of * setback * px[hb]
    hy = jy[fed[hb]] + along * uy[hb] + side_of * setback * py[hb]
    jnum = np.clip(np.rint(along / blen[hb] * k[hb]).astype(np.int64), 1, k[hb] - 1)
    hnode = first_joint[hb] + jnum - 1
    flats = np.where(rng.random(len(hb)) < 0.10, rng.integers(2, 9, len(hb)), 1)
    cb = np.repeat(np.arange(len(hb)), flats)
    if len(cb) > n_customers:
        keep = np.sort(rng.choice(len(cb), n_customers, replace=False))
        cb = cb[keep]
    return SynthNetwork(
        n_nodes=n_nodes,
        edge_from=start.astype(np.int64),
        edge_to=end.astype(np.int64),
        edge_open=is_open,
        edge_circuit=edge_circuit,
        x0=node_x[start],
        y0=node_y[start],
        x1=node_x[end],
        y1=node_y[end],
        sub_node=subs.astype(np.int64),
        circuit_sub=circuit_sub,
        cust_node=hnode[cb],
        cust_circuit=circuit[hb[cb]],
        cust_x=hx[cb],
        cust_y=hy[cb],
    )

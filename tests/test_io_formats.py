"""Readers across file formats (GeoJSON, GeoPackage, Parquet, GeoParquet) and file kinds."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely import LineString, Point, Polygon

import smartstreet_geo as ssg

E, N = 354500.0, 404100.0


def _customers_gdf(crs="EPSG:27700", n=3):
    pts = [Point(E + 10 * i, N) for i in range(n)]
    gdf = gpd.GeoDataFrame(
        {
            "customer_id": [f"16000000000{i}" for i in range(n)],
            "postcode": ["WN5 9XP"] * n,
            "name": [f"P{i}" for i in range(n)],
        },
        geometry=pts,
        crs="EPSG:27700",
    )
    return gdf.to_crs(crs) if crs != "EPSG:27700" else gdf


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".parquet"])
def test_spatial_formats_round_trip(tmp_path, suffix):
    src = _customers_gdf()
    path = tmp_path / f"c{suffix}"
    if suffix == ".parquet":
        src.to_parquet(path)
    else:
        src.to_file(path)
    result = ssg.read_customers(path)
    assert result.n_valid == 3 and result.n_rejected == 0
    got = np.c_[result.data.geometry.x, result.data.geometry.y]
    # GeoJSON is written in EPSG:27700 here and read back as such when its CRS is declared
    assert np.abs(got - np.c_[[E, E + 10, E + 20], [N] * 3]).max() < 0.01


def test_geojson_in_wgs84_is_converted_with_ostn15(tmp_path):
    ll = pd.DataFrame({"customer_id": ["1"], "postcode": ["WN5 9XP"]})
    lon, lat = ssg.bng_to_lonlat([E], [N])
    gdf = gpd.GeoDataFrame(ll, geometry=[Point(lon[0], lat[0])], crs="EPSG:4326")
    path = tmp_path / "c.geojson"
    gdf.to_file(path)
    out = ssg.read_customers(path).data.geometry.iloc[0]
    assert abs(out.x - E) < 0.01 and abs(out.y - N) < 0.01  # GeoJSON keeps ~1e-7 degrees


def test_geojson_declaring_degrees_with_metre_coordinates_is_a_file_error(tmp_path):
    path = tmp_path / "c.geojson"
    # a common export bug: BNG numbers written into a GeoJSON (which is WGS84 by definition)
    path.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"customer_id":"1","postcode":"WN5 9XP"},"geometry":{"type":"Point",'
        f'"coordinates":[{E},{N}]}}}}]}}'
    )
    with pytest.raises(ssg.CoordinateError, match="easting/northing"):
        ssg.read_customers(path)


def test_gpkg_without_crs_needs_a_declared_crs(tmp_path):
    path = tmp_path / "c.gpkg"
    with pytest.warns(UserWarning, match="crs"):
        _customers_gdf().set_crs(None, allow_override=True).to_file(path)
    with pytest.raises(ssg.CRSError, match="no coordinate reference system"):
        ssg.read_customers(path)
    assert ssg.read_customers(path, crs="EPSG:27700").n_valid == 3


def test_declared_crs_conflicting_with_file_is_an_error(tmp_path):
    path = tmp_path / "c.gpkg"
    _customers_gdf().to_file(path)
    with pytest.raises(ssg.CRSError, match="declares"):
        ssg.read_customers(path, crs="EPSG:4326")


def test_multi_layer_gpkg_needs_a_layer(tmp_path):
    path = tmp_path / "c.gpkg"
    _customers_gdf().to_file(path, layer="a")
    _customers_gdf().to_file(path, layer="b")
    with pytest.raises(ssg.InputFileError, match="2 layers"):
        ssg.read_customers(path)
    assert ssg.read_customers(path, layer="b").n_valid == 3


def test_customers_must_be_points_and_not_empty(tmp_path):
    gdf = _customers_gdf(n=4)
    geoms = list(gdf.geometry)
    geoms[1] = LineString([(E, N), (E + 5, N)])
    geoms[2] = Point()
    geoms[3] = None
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, crs=27700))
    path = tmp_path / "c.gpkg"
    gdf.to_file(path)
    r = ssg.read_customers(path)
    got = dict(zip(r.rejects["row_number"], r.rejects["reason_code"], strict=True))
    assert got == {2: "wrong_geometry_type", 3: "empty_geometry", 4: "missing_coordinates"}
    assert r.n_valid == 1


def test_plain_parquet_keeps_types(tmp_path):
    df = pd.DataFrame(
        {
            "customer_id": [1600000000001, 1600000000002],  # ids read as integers by a tool
            "premise_id": [100023336956.0, np.nan],  # and UPRNs as floats
            "postcode": ["WN5 9XP", "WN5 9XP"],
            "easting": [E, np.nan],
            "northing": [N, N],
            "psr": [True, False],
        }
    )
    path = tmp_path / "c.parquet"
    df.to_parquet(path)
    r = ssg.read_customers(path)
    assert r.data["customer_id"].tolist() == ["1600000000001"]
    assert r.data["premise_id"].tolist() == ["100023336956"]
    assert r.rejects["reason_code"].tolist() == ["missing_coordinates"]


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_text_columns_are_read_whole_not_in_pieces(tmp_path, suffix):
    # Arrow reads a file in pieces (Parquet batches, CSV blocks); a chunked text column is
    # concatenated whole by every later take of its rows, so the reader joins it once
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    n = 30_000
    rng = np.random.default_rng(5)
    table = pa.table(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "name": [f"Name {v}" for v in rng.integers(0, 10**9, n)],
            "postcode": ["WN5 9XP"] * n,
            "easting": rng.uniform(E - 500, E + 500, n),
            "northing": rng.uniform(N - 500, N + 500, n),
        }
    )
    path = tmp_path / f"c{suffix}"
    if suffix == ".parquet":
        pq.write_table(table, path, row_group_size=1_000)
    else:
        pacsv.write_csv(table, path)
    pieces = (
        pq.read_table(path).column("name").num_chunks
        if suffix == ".parquet"
        else pacsv.read_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 16))
        .column("name")
        .num_chunks
    )
    assert pieces > 1  # the premise of the test: Arrow itself gives pieces
    r = ssg.read_customers(path)
    for col in ("customer_id", "name", "postcode"):
        arrow_data = pa.array(r.data[col].array)
        assert not isinstance(arrow_data, pa.ChunkedArray) or arrow_data.num_chunks == 1, col
        assert r.data[col].tolist() == table.column(col).to_pylist(), col


_PEAK_SCRIPT = """
import sys
import pyarrow as pa
import smartstreet_geo as ssg

pool = pa.default_memory_pool()
before = pool.bytes_allocated()
r = ssg.read_customers(sys.argv[1], check_postcodes=False)
kept = 0
for col in r.data.columns:
    if col != r.data.geometry.name and isinstance(r.data[col].array, pd.arrays.ArrowExtensionArray):
        kept += sum(b.size for b in pa.array(r.data[col].array).buffers() if b is not None)
print(r.n_rejected, (pool.max_memory() - before) / kept)
"""


def test_the_files_text_is_not_held_three_times_while_it_is_read(tmp_path):
    # Arrow's pool high-water mark, in a fresh process, against the text the reader keeps.
    # The file's columns as read (in pieces), made whole, and the valid rows' copy were all
    # alive at the end of reading (3.3 times the kept text): the pieces are now let go as
    # each column is made whole, and each column as its valid rows are taken (1.7 times:
    # the text read, its filtered copy, a column in flight).
    import subprocess
    import sys

    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pd.read_parquet(ssg.demo.path("customers"))
    n = 60_000
    big = frame.sample(n, replace=True, random_state=1).reset_index(drop=True)
    big["customer_id"] = [f"C{i:08d}" for i in range(n)]
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.Table.from_pandas(big, preserve_index=False), path, row_group_size=4_000)
    script = "import pandas as pd\n" + _PEAK_SCRIPT
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    rejected, ratio = int(out[0]), float(out[1])
    assert rejected > 0  # rows are filtered out: every text column is copied once
    assert ratio < 2.5, ratio


def test_unknown_file_type_and_missing_file(tmp_path):
    (tmp_path / "c.xlsx").write_bytes(b"PK")
    with pytest.raises(ssg.InputFileError, match="unknown file type"):
        ssg.read_customers(tmp_path / "c.xlsx")
    with pytest.raises(ssg.InputFileError, match="no such file"):
        ssg.read_customers(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- equipment
def test_equipment_kinds_dates_and_outage_flags(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "equipment_id,kind,install_date,outage_required,easting,northing\n"
        f"E1,OLTC Transformer,2027-03-01,true,{E},{N}\n"
        f"E2,lv-capacitor,01/04/2027,false,{E},{N}\n"
        f"E3,flux capacitor,2027-03-01,false,{E},{N}\n"
        f"E4,lv_capacitor,31/31/2027,false,{E},{N}\n"
        f"E5,lv_capacitor,2027-03-01,,{E},{N}\n"
        f"E6,link_box_switch,,maybe,{E},{N}\n"
    )
    r = ssg.read_equipment(path)
    got = dict(zip(r.rejects["row_number"], r.rejects["reason_code"], strict=True))
    assert got == {3: "unknown_kind", 4: "invalid_value", 5: "missing_value", 6: "invalid_value"}
    assert r.data["kind"].tolist() == ["oltc_transformer", "lv_capacitor"]
    assert r.data["install_date"].dt.strftime("%Y-%m-%d").tolist() == ["2027-03-01", "2027-04-01"]
    assert r.data["outage_required"].tolist() == [True, False]
    assert "allowed: oltc_transformer" in r.rejects["message"].iloc[0]


def test_equipment_lines_and_polygons(tmp_path):
    lon, lat = ssg.bng_to_lonlat([E, E + 100, E + 100, E], [N, N, N + 50, N + 50])
    ll = list(zip(lon, lat, strict=True))
    gdf = gpd.GeoDataFrame(
        {
            "equipment_id": ["route", "area", "bad"],
            "kind": ["link_box_switch", "lv_capacitor", "lv_capacitor"],
            "outage_required": [False, True, False],
        },
        geometry=[
            LineString(ll[:2]),
            Polygon(ll),
            Polygon([ll[0], ll[2], ll[1], ll[3]]),  # a bow-tie: invalid
        ],
        crs="EPSG:4326",
    )
    path = tmp_path / "e.gpkg"
    gdf.to_file(path)
    r = ssg.read_equipment(path)
    assert r.data["equipment_id"].tolist() == ["route", "area"]
    assert r.rejects["reason_code"].tolist() == ["invalid_geometry"]
    area = r.data.geometry.iloc[1]
    assert abs(area.area - 100 * 50) < 1.0  # OSTN15 keeps shapes to the centimetre


def test_equipment_without_outage_column_says_so(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(f"equipment_id,kind,easting,northing\nE1,lv_capacitor,{E},{N}\n")
    r = ssg.read_equipment(path)
    assert r.data["outage_required"].tolist() == [False]
    assert any("outage_required" in n for n in r.notes)


# --------------------------------------------------------------------------- network
def _network(tmp_path):
    edges = gpd.GeoDataFrame(
        {
            "edge_id": ["e1", "e2", "e3", "e4", "e5"],
            "from_node": ["bus", "n1", "n2", "n3", "n4"],
            "to_node": ["n1", "n2", "n2", "", "n5"],
            "circuit_id": ["C1"] * 5,
            "substation_id": ["S1"] * 5,
            "normally_open": [False, True, False, False, False],
        },
        geometry=[
            LineString([(E, N), (E + 10, N)]),
            LineString([(E + 10, N), (E + 20, N)]),
            LineString([(E + 20, N), (E + 20, N + 5)]),
            LineString([(E + 20, N), (E + 30, N)]),
            Point(E, N),
        ],
        crs=27700,
    )
    subs = gpd.GeoDataFrame(
        {"substation_id": ["S1"], "node": ["bus"], "name": ["Oak Road S/S"]},
        geometry=[Point(E, N)],
        crs=27700,
    )
    path = tmp_path / "net.gpkg"
    edges.to_file(path, layer="edges")
    subs.to_file(path, layer="substations")
    return path


def test_network_from_one_geopackage(tmp_path):
    net = ssg.read_network(_network(tmp_path))
    edges, subs, rejects = net
    assert edges["edge_id"].tolist() == ["e1", "e2"]
    assert edges["normally_open"].tolist() == [False, True]
    got = dict(zip(rejects["record_id"], rejects["reason_code"], strict=True))
    assert got == {"e3": "invalid_value", "e4": "missing_value", "e5": "wrong_geometry_type"}
    assert subs["substation_id"].tolist() == ["S1"]
    assert net.edges_result.n_input == 5


def test_network_needs_substations(tmp_path):
    path = tmp_path / "edges.csv"
    path.write_text("edge_id,from_node,to_node\n")
    with pytest.raises(ssg.InputFileError, match="substations"):
        ssg.read_network(path)


def test_a_frame_with_arrow_columns_in_pieces_is_read_whole_and_left_as_it_was():
    import pyarrow as pa

    def pieces(*parts):
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array(list(parts))))

    frame = pd.DataFrame(
        {
            "customer_id": pieces(pa.array(["C1", "C2"]), pa.array(["C3"])),
            "postcode": pieces(
                pa.array(["WN5 9XP", "WN5 9XP"]).dictionary_encode(),
                pa.array(["WN5 9XP"]).dictionary_encode(),
            ),
            "easting": [E, E + 10, E + 20],
            "northing": [N, N, N],
        }
    )
    r = ssg.read_customers(frame)
    assert r.data["customer_id"].tolist() == ["C1", "C2", "C3"]
    assert r.data["postcode"].tolist() == ["WN5 9XP"] * 3
    data = pa.array(r.data["customer_id"].array)
    assert not isinstance(data, pa.ChunkedArray) or data.num_chunks == 1
    assert pa.array(frame["customer_id"].array).num_chunks == 2  # the caller's frame untouched

"""Reading from a real PostgreSQL + PostGIS server gives what reading the same data from files gives.

The fixture starts a throwaway cluster (``initdb`` in a temporary folder, listening
on 127.0.0.1 only, on a free port, as the ``postgres`` user when run as root since
initdb refuses root) and removes it afterwards. It skips, saying why, where the
server binaries or the PostGIS extension are not installed (Debian:
``apt-get install postgresql-15-postgis-3``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import smartstreet_geo as ssg
from smartstreet_geo.errors import CRSError, InputFileError

pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg")

_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
_SOURCE = ["source_file", "message"]


def _bin() -> Path | None:
    env = os.environ.get("SMARTSTREET_PG_BIN")
    for d in [Path(env)] if env else _BIN_DIRS:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgis_url() -> Iterator[str]:
    """A database URL on a fresh PostGIS cluster (loopback only), torn down after the module."""
    bindir = _bin()
    if bindir is None:
        pytest.skip(
            "PostgreSQL server binaries not found (apt-get install postgresql-15-postgis-3)"
        )
    share = bindir.parent.parent.parent.parent / "share" / "postgresql" / bindir.parent.name
    if not list((share / "extension").glob("postgis.control")):
        pytest.skip(f"the PostGIS extension is not installed for PostgreSQL {bindir.parent.name}")
    as_root = os.geteuid() == 0
    if as_root:
        try:
            import pwd

            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user for initdb")
    base = Path(tempfile.mkdtemp(prefix="ssg-pg-"))
    data = base / "data"
    if as_root:
        os.chown(base, pw.pw_uid, pw.pw_gid)

    def run(*cmd: str) -> subprocess.CompletedProcess[str]:
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_root else list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=120, check=False)

    port = _free_port()
    started = False
    try:
        r = run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        if r.returncode:
            pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        r = run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(base / "log"),
            "-w",
            "start",
        )
        if r.returncode:
            pytest.skip(f"the PostgreSQL server did not start: {r.stderr.strip()[-300:]}")
        started = True
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        import sqlalchemy as sa

        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as con:
            con.execute(sa.text("CREATE EXTENSION postgis"))
        engine.dispose()
        yield url
    finally:
        if started:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def _engine(url: str):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


@pytest.fixture(scope="module")
def demo_tables(postgis_url: str) -> str:
    """The demo customers, equipment and network loaded as PostGIS tables (geometry, SRID)."""
    import geopandas as gpd
    import sqlalchemy as sa

    engine = _engine(postgis_url)
    customers = pd.read_parquet(ssg.demo.path("customers"))
    customers.insert(0, "ord", range(1, len(customers) + 1))
    equipment = pd.read_csv(ssg.demo.path("equipment"), dtype=str, keep_default_na=False)
    equipment.insert(0, "ord", range(1, len(equipment) + 1))
    edges = gpd.read_parquet(ssg.demo.path("network_edges"))
    subs = gpd.read_parquet(ssg.demo.path("substations"))
    with engine.begin() as con:
        customers.to_sql("customers", con, index=False)
        equipment.to_sql("equipment", con, index=False)
        for name, g in (("edges", edges), ("substations", subs)):
            plain = pd.DataFrame(g.drop(columns=[g.geometry.name]))
            plain.insert(0, "ord", range(1, len(plain) + 1))
            plain["wkt"] = g.geometry.to_wkt()
            plain.to_sql(name, con, index=False)
            con.execute(
                sa.text(
                    f"ALTER TABLE {name} ADD COLUMN geom geometry; "
                    f"UPDATE {name} SET geom = ST_GeomFromText(wkt, 27700); "
                    f"ALTER TABLE {name} DROP COLUMN wkt"
                )
            )
        # customers as PostGIS points: the geometry replaces the coordinate columns
        con.execute(
            sa.text(
                "ALTER TABLE customers ADD COLUMN geom geometry(Point, 27700); "
                "UPDATE customers SET geom = ST_SetSRID(ST_MakePoint(easting, northing), 27700) "
                "WHERE easting IS NOT NULL AND northing IS NOT NULL "
                "AND easting = easting AND northing = northing"
            )
        )
    engine.dispose()
    return postgis_url


def _same(a: ssg.ReadResult, b: ssg.ReadResult) -> None:
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.rejects.drop(columns=_SOURCE), b.rejects.drop(columns=_SOURCE))


def test_customers_from_postgis_equal_the_file(demo_tables: str):
    from_file = ssg.read_customers(ssg.demo.path("customers"))
    # coordinates as columns: the same values, the same checks
    cols = (
        "customer_id, premise_id, name, address_line_1, address_line_2, address_line_3, "
        "post_town, postcode, easting, northing, psr, psr_needs, phone, nominee_name, "
        "nominee_phone, circuit_id, substation_id, connection_node"
    )
    got = ssg.read_customers(demo_tables, sql=f"SELECT {cols} FROM customers ORDER BY ord")
    _same(from_file, got)
    assert from_file.n_rejected > 100
    assert got.source.startswith("postgresql+psycopg://127.0.0.1:")
    assert "postgres@" not in got.source  # no user (nor password) in what is shown
    assert got.rejects["message"].str.contains(r"\(query\) row \d+", regex=True).all()


def test_customers_from_postgis_geometry(demo_tables: str):
    from_file = ssg.read_customers(ssg.demo.path("customers"))
    sql = (
        "SELECT customer_id, premise_id, name, address_line_1, address_line_2, address_line_3, "
        "post_town, postcode, geom, psr, psr_needs, phone, nominee_name, nominee_phone, "
        "circuit_id, substation_id, connection_node FROM customers ORDER BY ord"
    )
    engine = _engine(demo_tables)  # an Engine works as well as a URL
    try:
        got = ssg.read_customers(engine, sql=sql)
    finally:
        engine.dispose()
    assert got.data.crs.to_epsg() == 27700
    assert got.columns_used.get("geom") is None  # the geometry is not a text column
    # a point from easting/northing is the point in PostGIS: the same valid rows
    assert got.data["customer_id"].tolist() == from_file.data["customer_id"].tolist()
    assert got.data.geometry.geom_equals_exact(from_file.data.geometry, 0.0).all()
    # rejects: the same rows for the same reasons (a missing coordinate is a missing geometry)
    a = from_file.rejects[["row_number", "record_id"]]
    b = got.rejects[["row_number", "record_id"]]
    pd.testing.assert_frame_equal(a, b)


def test_equipment_and_network_from_postgis(demo_tables: str):
    url = demo_tables
    eq_file = ssg.read_equipment(ssg.demo.path("equipment"))
    cols = ", ".join(c for c in pd.read_csv(ssg.demo.path("equipment"), nrows=0).columns.tolist())
    _same(eq_file, ssg.read_equipment(url, sql=f"SELECT {cols} FROM equipment ORDER BY ord"))
    net_file = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    edge_cols = ", ".join(c for c in net_file.edges_result.columns_used if c != "geometry")
    sub_cols = ", ".join(c for c in net_file.substations_result.columns_used if c != "geometry")
    got = ssg.read_network(
        url,
        edges_sql=f"SELECT {edge_cols}, geom FROM edges ORDER BY ord",
        substations_sql=f"SELECT {sub_cols}, geom FROM substations ORDER BY ord",
    )
    _same(net_file.edges_result, got.edges_result)
    _same(net_file.substations_result, got.substations_result)


def test_postgis_srid_is_the_crs_and_is_checked(postgis_url: str):
    url = postgis_url
    one = "SELECT '1' AS customer_id, ST_SetSRID(ST_MakePoint(-2.6879, 53.5316), 4326) AS geom"
    got = ssg.read_customers(url, sql=one, check_postcodes=False)
    x, y = got.data.geometry.x.iloc[0], got.data.geometry.y.iloc[0]
    assert abs(x - 354500) < 50 and abs(y - 404100) < 50  # degrees converted with OSTN15
    mixed = one + " UNION ALL SELECT '2', ST_SetSRID(ST_MakePoint(354500, 404100), 27700)"
    with pytest.raises(CRSError, match="mixes SRIDs 4326, 27700"):
        ssg.read_customers(url, sql=mixed)
    no_srid = "SELECT '1' AS customer_id, ST_MakePoint(354500, 404100) AS geom"
    with pytest.raises(CRSError, match="no coordinate reference system"):
        ssg.read_customers(url, sql=no_srid)
    assert ssg.read_customers(url, sql=no_srid, crs="EPSG:27700", check_postcodes=False).n_valid


def test_database_errors_name_no_data(postgis_url: str):
    secret = "postgresql://postgres:hunter2@127.0.0.1:1/postgres"
    with pytest.raises(InputFileError) as info:
        ssg.read_customers(secret, sql="SELECT 1")
    assert "hunter2" not in str(info.value)
    assert "OperationalError" in str(info.value)
    with pytest.raises(InputFileError, match="SQLSTATE 22P02") as info:
        ssg.read_customers(postgis_url, sql="SELECT 'Jane Smith'::int AS customer_id")
    assert "Jane" not in str(info.value)

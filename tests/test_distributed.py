"""Partitioned campaigns (issue 17): the same outputs, byte for byte, as the in-process run.

The oracle is the in-process run on the customer file itself: every output file is compared
byte for byte (the manifest field by field, apart from its creation time and the customer
input, which is the folder of parts). The partitioned runs go in this process (parts one
after another) and on a real ``dask.distributed.LocalCluster`` (two worker processes,
loopback only), on the demo and on a generated multi-area dataset with equipment whose
radius spans two partitions and a closed normally-open point (a ring).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from smartstreet_geo import demo
from smartstreet_geo.cli import main
from smartstreet_geo.distributed import partition_customers, read_partitions
from smartstreet_geo.errors import ConfigError, InputFileError, ParameterError
from smartstreet_geo.io import read_customers
from smartstreet_geo.locate import _postcodes

DEMO = Path(demo.path("campaign")).parent
BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_run.py"
#: The reader's postcode-district margin as shipped; tests that widen it put this back.
ORIGINAL_MARGIN = _postcodes.DISTRICT_MARGIN_M


def _bench():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_run", module)
    spec.loader.exec_module(module)
    return module


def _pointing_at(campaign: Path, parts: Path, out: Path) -> Path:
    """A copy of ``campaign`` whose customers are ``parts`` (other inputs: absolute paths)."""
    text = campaign.read_text(encoding="utf-8")

    def absolute(m: re.Match[str]) -> str:
        key, value = m.group(1), m.group(2)
        if key == "customers":
            return f'{key} = "{parts.as_posix()}"'
        if key == "register":
            return m.group(0)
        candidate = campaign.parent / value
        return f'{key} = "{candidate.as_posix()}"' if candidate.exists() else m.group(0)

    text = re.sub(r'(?m)^(\w+)\s*=\s*"([^"]+)"', absolute, text)
    out.write_text(text, encoding="utf-8")
    return out


def _run(campaign: Path, out: Path, *extra: str) -> None:
    # with the GIS layers: they read the customers a partition sends back
    args = ["run", str(campaign), "--out", str(out), "-q", "--geo", "parquet", *extra]
    assert main(args) == 0


def _assert_same_outputs(ref: Path, got: Path) -> None:
    names = sorted(p.name for p in ref.iterdir())
    assert sorted(p.name for p in got.iterdir()) == names
    for name in names:
        if name == "manifest.json":
            continue
        assert (ref / name).read_bytes() == (got / name).read_bytes(), name
    a = json.loads((ref / "manifest.json").read_text(encoding="utf-8"))
    b = json.loads((got / "manifest.json").read_text(encoding="utf-8"))
    assert b.pop("partitions")["parts"] >= 1
    for m in (a, b):
        for key in ("created", "delete_after", "outputs"):
            m.pop(key)
        m["inputs"] = [
            {k: v for k, v in i.items() if k not in ("path", "sha256")}
            if i["role"] in ("customers", "campaign")
            else i
            for i in m["inputs"]
        ]
    assert a == b
    outs = {
        o["file"]: o["sha256"]
        for o in json.loads((got / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    }
    ref_outs = {
        o["file"]: o["sha256"]
        for o in json.loads((ref / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    }
    assert outs == ref_outs


# --------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("demo_parts")
    parts = partition_customers(demo.path("campaign"), root / "parts", partitions=4)
    campaign = _pointing_at(demo.path("campaign"), parts.path, root / "campaign.toml")
    _run(demo.path("campaign"), root / "ref")
    return {"root": root, "parts": parts.path, "campaign": campaign, "ref": root / "ref"}


def test_partitions_hold_every_row_once_with_premises_and_ids_together(demo_runs) -> None:
    parts = read_partitions(demo_runs["parts"])
    frames = [pd.read_parquet(f).assign(_part=i) for i, f in enumerate(parts.files)]
    every = pd.concat(frames, ignore_index=True)
    original = pd.read_parquet(demo.path("customers"))
    assert parts.rows == len(original) == len(every)
    assert sorted(every["__source_row__"]) == list(range(1, len(original) + 1))
    # each part's rows are the file's rows, raw values unchanged
    back = every.sort_values("__source_row__").drop(columns=["__source_row__", "_part"])
    pd.testing.assert_frame_equal(back.reset_index(drop=True), original)
    # one customer id (any row), one premise (of the customers read): one part
    spread = every.dropna(subset=["customer_id"]).groupby("customer_id")["_part"].nunique()
    assert spread.max() == 1
    recon = pd.read_csv(demo_runs["ref"] / "reconciliation.csv", dtype={"status": str})
    read = recon.loc[recon["status"].isin(["contacted", "not_contacted", "manual_review"])]
    used = every[every["__source_row__"].isin(read["source_row"])]
    premise = used["premise_id"].str.strip().replace("", pd.NA)  # blank: no premise id
    assert premise.notna().sum() > 80_000
    assert used.groupby(premise)["_part"].nunique().max() == 1
    # one substation group: one part
    groups = [set(p["substations"]) for p in parts.parts]
    assert sum(map(len, groups)) == len(set().union(*groups))


def test_in_process_partitions_give_the_same_outputs(demo_runs) -> None:
    out = demo_runs["root"] / "in_process"
    _run(demo_runs["campaign"], out)
    _assert_same_outputs(demo_runs["ref"], out)


def test_dask_cluster_gives_the_same_outputs(demo_runs, dask_client) -> None:
    out = demo_runs["root"] / "dask"
    _run(demo_runs["campaign"], out, "--scheduler", dask_client.scheduler.address)
    _assert_same_outputs(demo_runs["ref"], out)


def test_nominee_copies_cite_the_merged_references(tmp_path) -> None:
    """Copies of outage letters to nominees (``-NC``) follow their letter's final number."""
    shutil.copytree(DEMO, tmp_path / "demo")
    frame = pd.read_parquet(tmp_path / "demo" / "customers.parquet")
    named = frame["nominee_name"].notna() & frame["nominee_name"].astype(str).str.strip().ne("")
    frame["nominee_address_line_1"] = np.where(named, "1 Nominee Road", None)
    frame["nominee_post_town"] = np.where(named, "WIGAN", None)
    frame["nominee_postcode"] = np.where(named, "WN1 1AA", None)
    frame.to_parquet(tmp_path / "demo" / "customers.parquet", index=False)
    campaign = tmp_path / "demo" / "campaign.toml"
    parts = partition_customers(campaign, tmp_path / "parts", partitions=4)
    on_parts = _pointing_at(campaign, parts.path, tmp_path / "demo" / "parts.toml")
    _run(campaign, tmp_path / "ref")
    _run(on_parts, tmp_path / "got")
    _assert_same_outputs(tmp_path / "ref", tmp_path / "got")
    manifest = json.loads((tmp_path / "got" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["counts"]["nominee_copies"] > 50
    letters = pd.read_csv(tmp_path / "got" / "letters.csv", dtype=str)
    copies = letters[letters["contact_ref"].str.endswith("-NC")]
    assert len(copies) == manifest["counts"]["nominee_copies"]
    assert set(copies["contact_ref"].str.removesuffix("-NC")) <= set(letters["contact_ref"])


def test_backfeed_plans_on_partitions_are_refused(demo_runs, tmp_path) -> None:
    from smartstreet_geo.campaign import run_campaign

    campaign = tmp_path / "plans.toml"
    text = demo_runs["campaign"].read_text(encoding="utf-8")
    campaign.write_text(text.replace("[outage]", '[outage]\nplan = "backfeed"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r'plan = "backfeed" .* partitioned customer input'):
        run_campaign(campaign)


def test_workers_of_another_version_are_refused(demo_runs, dask_client, monkeypatch) -> None:
    import smartstreet_geo
    from smartstreet_geo.campaign import run_campaign

    monkeypatch.setattr(smartstreet_geo, "__version__", "0.0.0-other")
    with pytest.raises(
        ConfigError, match=r"workers run smartstreet-geo .* this process 0\.0\.0-other"
    ):
        run_campaign(demo_runs["campaign"], scheduler=dask_client.scheduler.address)


# --------------------------------------------------------------------------- generated areas
def _widen(margin: float) -> None:
    import smartstreet_geo.locate as locate

    locate.DISTRICT_MARGIN_M = margin


def _boundary_equipment(parts_folder: Path, valid_rows: set[int]) -> pd.DataFrame:
    """Equipment midway between the closest valid customers of two partitions, reaching both."""
    parts = read_partitions(parts_folder)
    points = []
    for f in parts.files:
        frame = pd.read_parquet(f)
        ok = frame["__source_row__"].isin(valid_rows)
        xy = frame.loc[ok, ["easting", "northing"]].astype(float).to_numpy()
        points.append(gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=27700))
    rows = []
    for i in range(len(points)):
        for j in range(i + 1, len(points)):
            if len(points[i]) == 0 or len(points[j]) == 0:
                continue
            near, dist = points[j].sindex.nearest(points[i], return_distance=True)
            k = int(np.argmin(dist))
            if dist[k] > 180:  # a circuit breaker (100 m here) at the midpoint reaches both
                continue
            a, b = points[i].iloc[near[0][k]], points[j].iloc[near[1][k]]
            rows.append(
                {
                    "equipment_id": f"BOUNDARY-{i}-{j}",
                    "kind": "circuit_breaker",
                    "easting": round((a.x + b.x) / 2, 3),
                    "northing": round((a.y + b.y) / 2, 3),
                }
            )
    return pd.DataFrame(rows)


def _areas(root: Path, tiles: int, partitions: int) -> dict:
    """The demo tiled, with boundary equipment and a closed ring, partitioned; the reference run.

    The reader's postcode-district margin must be widened by the caller (tiles move customers
    away from their districts).
    """
    bench = _bench()
    campaign = bench.make_inputs(tiles, root / "in")
    # close one normally-open point: a ring
    edges = gpd.read_parquet(root / "in" / "network_edges.parquet")
    nop = edges.index[edges["normally_open"]][0]
    edges.loc[nop, "normally_open"] = False
    edges.to_parquet(root / "in" / "network_edges.parquet", index=False)
    parts = partition_customers(campaign, root / "parts", partitions=partitions)
    valid = read_customers(root / "in" / "customers.parquet").data["source_row"]
    extra = _boundary_equipment(parts.path, set(valid))
    assert len(extra) >= 2
    eq = pd.read_csv(root / "in" / "equipment.csv", dtype=str, keep_default_na=False)
    extra = extra.assign(**{c: "" for c in eq.columns if c not in extra}).astype(str)
    extra["outage_required"] = "false"
    pd.concat([eq, extra[eq.columns]], ignore_index=True).to_csv(
        root / "in" / "equipment.csv", index=False
    )
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace("circuit_breaker = 30", "circuit_breaker = 100"))
    ref = root / "ref"
    _run(campaign, ref)
    return {
        "root": root,
        "campaign": _pointing_at(campaign, parts.path, root / "in" / "parts.toml"),
        "ref": ref,
        "parts": parts.path,
        "ring_edge": edges.loc[nop, "edge_id"],
        "margin": bench.WIDE_MARGIN_M,
    }


@pytest.fixture(scope="module")
def areas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo tiled 3 times (257,460 rows) in 5 partitions."""

    before = ORIGINAL_MARGIN  # not the current one: the areas fixture may have widened it
    _widen(_bench().WIDE_MARGIN_M)
    try:
        yield _areas(tmp_path_factory.mktemp("areas"), 3, 5)
    finally:
        _widen(before)


def test_generated_areas_span_partitions(areas) -> None:
    recon = pd.read_csv(areas["ref"] / "reconciliation.csv", dtype={"reason": str})
    parts = read_partitions(areas["parts"])
    part_of = pd.concat(
        [pd.read_parquet(f, columns=["__source_row__"]).assign(part=i) for i, f in
         enumerate(parts.files)]
    ).set_index("__source_row__")["part"]  # fmt: skip
    hits = recon["reason"].fillna("").str.extractall(r"(BOUNDARY-\d+-\d+)")[0]
    rows = recon["source_row"].to_numpy()[hits.index.get_level_values(0)]
    spans = pd.Series(part_of.reindex(rows).to_numpy(), index=hits.to_numpy())
    # each boundary item reaches customers of both partitions it sits between
    per_item = spans.groupby(level=0).nunique()
    assert len(per_item) >= 2 and (per_item >= 2).all()
    # and the ring is closed in the network the runs read
    edges = gpd.read_parquet(areas["root"] / "in" / "network_edges.parquet")
    assert not edges.set_index("edge_id").loc[areas["ring_edge"], "normally_open"]


def test_generated_areas_on_dask(areas, dask_client) -> None:

    dask_client.run(_widen, areas["margin"])
    before = ORIGINAL_MARGIN  # not the current one: the areas fixture may have widened it
    _widen(areas["margin"])
    try:
        out = areas["root"] / "dask"
        _run(areas["campaign"], out, "--scheduler", dask_client.scheduler.address)
        _assert_same_outputs(areas["ref"], out)
    finally:
        _widen(before)
        dask_client.run(_widen, before)


@pytest.mark.slow
def test_a_licence_area_on_dask(tmp_path, dask_client) -> None:
    """2,402,960 customer rows (the demo tiled 28 times) in 16 partitions: the same outputs."""

    before = ORIGINAL_MARGIN  # not the current one: the areas fixture may have widened it
    margin = _bench().WIDE_MARGIN_M
    _widen(margin)
    dask_client.run(_widen, margin)
    try:
        big = _areas(tmp_path, 28, 16)
        _run(big["campaign"], tmp_path / "dask", "--scheduler", dask_client.scheduler.address)
        _assert_same_outputs(big["ref"], tmp_path / "dask")
    finally:
        _widen(before)
        dask_client.run(_widen, before)


# --------------------------------------------------------------------------- refusals and parts
def test_workers_without_partitions_is_refused_with_the_way_forward(tmp_path) -> None:
    from smartstreet_geo.campaign import run_campaign

    with pytest.raises(ConfigError, match="smartstreet-geo partition"):
        run_campaign(demo.path("campaign"), workers=2)


def test_partition_refuses_an_existing_folder_and_bad_counts(tmp_path) -> None:
    (tmp_path / "parts").mkdir()
    with pytest.raises(ParameterError, match="exists"):
        partition_customers(demo.path("campaign"), tmp_path / "parts")
    with pytest.raises(ParameterError, match="at least 1"):
        partition_customers(demo.path("campaign"), tmp_path / "p2", partitions=0)
    assert not (tmp_path / "p2").exists()


def test_partition_refuses_ragged_csv_rows(tmp_path) -> None:
    shutil.copytree(DEMO, tmp_path / "demo")
    frame = pd.read_parquet(tmp_path / "demo" / "customers.parquet").head(50)
    text = frame.to_csv(index=False).splitlines()
    text[7] += ",extra"
    (tmp_path / "demo" / "customers.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    campaign = tmp_path / "demo" / "campaign.toml"
    campaign.write_text(
        campaign.read_text(encoding="utf-8").replace("customers.parquet", "customers.csv"),
        encoding="utf-8",
    )
    with pytest.raises(InputFileError, match="row\\(s\\) 7 "):
        partition_customers(campaign, tmp_path / "parts")
    assert not (tmp_path / "parts").exists()


def test_warnings_about_the_whole_input_are_worded_for_the_whole_input(tmp_path) -> None:
    """Opted-out ids, late notice and past outages: counted over every partition, said once.

    A partition cannot tell that an opted-out id belongs to no customer (it may be another
    partition's), nor count an outage's customers in other partitions: the merge words
    these, and the manifest's warnings equal the in-process run's.
    """
    shutil.copytree(DEMO, tmp_path / "demo")
    campaign = tmp_path / "demo" / "campaign.toml"
    parts = partition_customers(campaign, tmp_path / "parts", partitions=4)
    ids = [
        pd.read_parquet(f, columns=["customer_id"])["customer_id"].dropna().head(20)
        for f in parts.files
    ]
    opted = pd.concat([*ids, pd.Series(["999000000001", "999000000002"])], ignore_index=True)
    opted.rename("customer_id").to_frame().to_csv(tmp_path / "demo" / "opted_out.csv", index=False)
    eq = pd.read_csv(tmp_path / "demo" / "equipment.csv", dtype=str, keep_default_na=False)
    outage = eq.loc[
        eq["outage_required"].str.lower().isin(["true", "1", "y", "yes"]), "equipment_id"
    ]
    dates = ", ".join(
        [f'{e} = "2027-01-06"' for e in outage.iloc[:6]]
        + [f'{e} = "2027-01-01"' for e in outage.iloc[6:12]]
    )
    text = campaign.read_text(encoding="utf-8")
    text = text.replace("[outage]", f"[outage]\ndates = {{ {dates} }}")
    text = text.replace("[psr]", '[suppression]\nopted_out = "opted_out.csv"\n\n[psr]')
    campaign.write_text(text, encoding="utf-8")
    on_parts = _pointing_at(campaign, parts.path, tmp_path / "demo" / "parts.toml")
    _run(campaign, tmp_path / "ref")
    _run(on_parts, tmp_path / "got")
    _assert_same_outputs(tmp_path / "ref", tmp_path / "got")
    said = json.loads((tmp_path / "got" / "manifest.json").read_text(encoding="utf-8"))["warnings"]
    assert "2 opted-out ids match no customer in the customer file" in said
    assert any("too late to give that notice" in w for w in said)
    assert any("already past" in w for w in said)

"""Partitioned campaigns against inputs the demo does not have (review of issue 17).

The oracle is always the in-process run on the customer file itself; the partitioned run
(parts one after another in this process, or on the ``LocalCluster`` where named) must write
the same bytes (:func:`test_distributed._assert_same_outputs`). The inputs are the demo's
Egremont and Wigton customers (9,410 rows, a few substation groups of very different sizes),
changed per test: a CSV with a column mapping, a GeoPackage in degrees without network
columns, ids and premises shared across substation groups, more parts than groups, rows with
degrees in the easting columns, equipment with numeric ids, a circuit in scope missing from
the network, a second wave continuing a pseudonymised register, results another client
holds on the same Dask scheduler, and parts made with other campaign settings.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from pyproj import Transformer

from smartstreet_geo.campaign import run_campaign
from smartstreet_geo.distributed import partition_customers, read_partitions
from smartstreet_geo.errors import ConfigError, ParameterError
from test_distributed import DEMO, _assert_same_outputs, _pointing_at, _run, _widen


def _small(root: Path) -> Path:
    """A copy of the demo with only its Egremont and Wigton customers; its campaign file."""
    folder = root / "demo"
    shutil.copytree(DEMO, folder)
    frame = pd.read_parquet(folder / "customers.parquet")
    frame = frame[frame["substation_id"].str[:3].isin(["EGR", "WGT"])].reset_index(drop=True)
    frame.to_parquet(folder / "customers.parquet", index=False)
    return folder / "campaign.toml"


def _edit(campaign: Path, old: str, new: str) -> None:
    text = campaign.read_text(encoding="utf-8")
    assert old in text
    campaign.write_text(text.replace(old, new, 1), encoding="utf-8")


def _both(campaign: Path, root: Path, partitions: int = 4, *extra: str) -> tuple[Path, Path]:
    """Run ``campaign`` on its customer file and on its parts; the two output folders."""
    parts = partition_customers(campaign, root / "parts", partitions=partitions)
    on_parts = _pointing_at(campaign, parts.path, campaign.parent / "parts.toml")
    _run(campaign, root / "ref", *extra)
    _run(on_parts, root / "got", *extra)
    return root / "ref", root / "got"


def _warnings(out: Path) -> list[str]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))["warnings"]


def _equipment_at(folder: Path, rows: list[dict[str, str]]) -> None:
    """Append equipment rows given in BNG (``x``, ``y``) to the demo's equipment.csv."""
    eq = pd.read_csv(folder / "equipment.csv", dtype=str, keep_default_na=False)
    to_lonlat = Transformer.from_crs(27700, 4326, always_xy=True)
    new = []
    for r in rows:
        lon, lat = to_lonlat.transform(float(r.pop("x")), float(r.pop("y")))
        new.append({**dict.fromkeys(eq.columns, ""), **r, "longitude": f"{lon:.7f}",
                    "latitude": f"{lat:.7f}"})  # fmt: skip
    pd.concat([eq, pd.DataFrame(new)], ignore_index=True).to_csv(
        folder / "equipment.csv", index=False
    )


# --------------------------------------------------------------------------- other inputs
def test_csv_with_a_column_mapping(tmp_path) -> None:
    """A CSV (every value raw text) whose columns are named otherwise, mapped in the campaign."""
    campaign = _small(tmp_path)
    frame = pd.read_parquet(campaign.parent / "customers.parquet")
    frame = frame.rename(columns={"customer_id": "Account Ref", "easting": "X", "northing": "Y"})
    frame.to_csv(campaign.parent / "customers.csv", index=False)
    _edit(campaign, "customers.parquet", "customers.csv")
    _edit(
        campaign,
        "[scope]",
        '[inputs.columns.customers]\n"Account Ref" = "customer_id"\nX = "easting"\nY = "northing"'
        "\n\n[scope]",
    )
    _assert_same_outputs(*_both(campaign, tmp_path))


def test_geopackage_in_degrees_without_network_columns(tmp_path) -> None:
    """Point geometry in EPSG:4326, no substation, circuit or node: grouped by nearest substation."""
    campaign = _small(tmp_path)
    frame = pd.read_parquet(campaign.parent / "customers.parquet")
    points = gpd.points_from_xy(frame["easting"], frame["northing"], crs=27700)
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=["easting", "northing", "substation_id", "circuit_id",
                            "connection_node"]),
        geometry=points,
    ).to_crs(4326)  # fmt: skip
    gdf.to_file(campaign.parent / "customers.gpkg", driver="GPKG")
    _edit(campaign, "customers.parquet", "customers.gpkg")
    ref, got = _both(campaign, tmp_path)
    _assert_same_outputs(ref, got)
    assert sum(len(p["substations"]) > 0 for p in read_partitions(tmp_path / "parts").parts) >= 2


def test_ids_and_premises_shared_across_substation_groups(tmp_path) -> None:
    """One id in two groups (a conflict), an exact copy, one premise id in two towns."""
    campaign = _small(tmp_path)
    frame = pd.read_parquet(campaign.parent / "customers.parquet")
    placed = frame["easting"].notna()
    egr = frame.index[frame["substation_id"].str.startswith("EGR") & placed]
    wgt = frame.index[frame["substation_id"].str.startswith("WGT") & placed]
    frame.loc[wgt[0], "customer_id"] = frame.loc[egr[0], "customer_id"]
    frame.loc[wgt[1], "premise_id"] = frame.loc[egr[2], "premise_id"]
    frame.loc[wgt[2], ["customer_id", "postcode"]] = [frame.loc[egr[3], "customer_id"], "XX"]
    frame = pd.concat([frame, frame.loc[[egr[1]]]], ignore_index=True)
    frame.to_parquet(campaign.parent / "customers.parquet", index=False)
    ref, got = _both(campaign, tmp_path)
    _assert_same_outputs(ref, got)
    rejects = pd.read_csv(ref / "rejects.csv", dtype=str)
    assert {"conflicting_duplicate", "exact_duplicate"} <= set(rejects["reason_code"])


def test_more_parts_than_groups_with_envelopes_and_internal_details(tmp_path) -> None:
    """Empty parts (7 parts, 5 groups with customers); one envelope per premise; internal words."""
    campaign = _small(tmp_path)
    _edit(
        campaign,
        "[output]",
        "[output]\none_envelope_per_premise = true\ninternal_details = true",
    )
    ref, got = _both(campaign, tmp_path, 7)
    _assert_same_outputs(ref, got)
    sizes = [p["rows"] for p in read_partitions(tmp_path / "parts").parts]
    assert 0 in sizes


# --------------------------------------------------------------------------- found in review
def test_a_few_rows_with_degrees_in_the_easting_columns(tmp_path) -> None:
    """Rows the file rejects one by one must not make a part that the reader stops as a whole.

    The reader stops a file whose rows are mostly degrees in easting/northing; three such rows
    in 9,410 are rejected one by one. The partitioner used to deal rejected rows out evenly,
    so a part with no substation group held only those rows and the run stopped
    (CoordinateError) where the file's own run does not.
    """
    campaign = _small(tmp_path)
    frame = pd.read_parquet(campaign.parent / "customers.parquet")
    rows = frame.index[frame["easting"].notna()][[100, 2000, 4000]]
    frame.loc[rows, ["easting", "northing"]] = [-3.53, 54.48]
    frame.to_parquet(campaign.parent / "customers.parquet", index=False)
    ref, got = _both(campaign, tmp_path, 8)
    _assert_same_outputs(ref, got)
    rejects = pd.read_csv(ref / "rejects.csv", dtype=str)
    assert (rejects["reason_code"] == "degrees_as_metres").sum() == 3


def test_warnings_that_start_with_a_number_are_not_added_up(tmp_path) -> None:
    """An equipment id of digits and a count of circuits are said as worded, not summed.

    Each part says "1 circuit(s) in scope are not in the network" and "90001: cannot be
    placed ..."; the merge added the leading numbers over the parts ("4 circuit(s)",
    "360,004: cannot be placed").
    """
    campaign = _small(tmp_path)
    folder = campaign.parent
    circuits = pd.read_csv(folder / "circuits.csv", dtype=str, keep_default_na=False)
    ghost = dict.fromkeys(circuits.columns, "")
    ghost.update(circuit_id="GHOST-F1", substation_id="GHOST", trial="true")
    pd.concat([circuits, pd.DataFrame([ghost])]).to_csv(folder / "circuits.csv", index=False)
    customers = pd.read_parquet(folder / "customers.parquet")
    at = customers[customers["substation_id"].eq("EGR01") & customers["easting"].notna()].iloc[0]
    _equipment_at(
        folder,
        [
            {
                "equipment_id": "90001",
                "kind": "circuit_breaker",
                "circuit_id": "EGR01-F1",
                "substation_id": "EGR01",
                "install_date": "2027-03-15",
                "outage_required": "true",
                "x": str(at["easting"] - 3000),  # 3 km out: no cable of its circuit near
                "y": str(at["northing"]),
            }
        ],
    )
    ref, got = _both(campaign, tmp_path)
    _assert_same_outputs(ref, got)
    said = _warnings(got)
    assert any(w.startswith("90001: cannot be placed") for w in said)
    assert "1 circuit(s) in scope are not in the network: GHOST-F1" in said


# --------------------------------------------------------------------------- waves
def test_a_second_wave_on_a_pseudonymised_register(tmp_path, monkeypatch) -> None:
    """Wave 1 and wave 2 (new equipment; suppression by the register), pseudonymised.

    Wave 1 runs both ways from no register; the registers agree but for ``recorded_at``
    (the clock, as two runs on the file itself). Wave 2 starts both ways from the same
    register (its SHA-256 is part of the run id) and must write the same bytes.
    """
    monkeypatch.setenv("SMARTSTREET_PSEUDONYM_KEY", secrets.token_hex(32))
    a = _small(tmp_path / "a")
    _edit(
        a,
        'needs_codes = "psr_needs_codes.csv"',
        'needs_codes = "psr_needs_codes.csv"\n\n[suppression]\nregister = "register.parquet"',
    )
    shutil.copytree(a.parent, tmp_path / "b" / "demo")
    b = tmp_path / "b" / "demo" / "campaign.toml"
    parts = partition_customers(b, tmp_path / "b" / "parts", partitions=4)
    on_parts = _pointing_at(b, parts.path, b.parent / "parts.toml")
    flags = ("--pseudonymise", "--new-register")
    _run(a, tmp_path / "a" / "w1", *flags)
    _run(on_parts, tmp_path / "b" / "w1", *flags)
    _assert_same_outputs(tmp_path / "a" / "w1", tmp_path / "b" / "w1")
    ra = pd.read_parquet(a.parent / "register.parquet").drop(columns="recorded_at")
    rb = pd.read_parquet(b.parent / "register.parquet").drop(columns="recorded_at")
    pd.testing.assert_frame_equal(ra, rb)

    customers = pd.read_parquet(a.parent / "customers.parquet").sort_values("customer_id")
    customers = customers[customers["easting"].notna()]
    shutil.copy(a.parent / "register.parquet", b.parent / "register.parquet")
    for folder in (a.parent, b.parent):
        _equipment_at(
            folder,
            [
                {
                    "equipment_id": f"EQ900{i}",
                    "kind": kind,
                    "circuit_id": c.circuit_id,
                    "substation_id": c.substation_id,
                    "install_date": "2027-03-15",
                    "outage_required": outage,
                    "x": str(c.easting),
                    "y": str(c.northing),
                }
                for i, (c, kind, outage) in enumerate(
                    zip(
                        customers.iloc[[10, 3000, 6000]].itertuples(),
                        ["lv_capacitor", "circuit_breaker", "oltc_transformer"],
                        ["true", "false", "true"],
                        strict=True,
                    )
                )
            ],
        )
    _run(a, tmp_path / "a" / "w2", "--pseudonymise")
    _run(on_parts, tmp_path / "b" / "w2", "--pseudonymise")
    _assert_same_outputs(tmp_path / "a" / "w2", tmp_path / "b" / "w2")
    manifest = json.loads((tmp_path / "b" / "w2" / "manifest.json").read_text(encoding="utf-8"))
    register = manifest["register"]
    assert register["pseudonymised"] and register["contacts_before"] == len(ra)
    assert 0 < register["contacts_added"] < register["suppressed_as_already_made"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(a.parent / "register.parquet").drop(columns="recorded_at"),
        pd.read_parquet(b.parent / "register.parquet").drop(columns="recorded_at"),
    )


# --------------------------------------------------------------------------- Dask, partition
def test_results_another_client_holds_on_the_scheduler_are_not_taken(tmp_path, dask_client) -> None:
    """Part results had fixed names on the scheduler (``smartstreet-geo-part-0`` ...).

    A second run on the same scheduler while those names were held (another campaign, another
    user) was given the held results instead of its own: another campaign's customers in its
    outputs. Names are now unique to a run.
    """
    import smartstreet_geo.locate as locate

    # the workers judge postcodes with this process's margin (an earlier test may have left
    # them with another: test_distributed's generated areas widen it)
    dask_client.run(_widen, locate.DISTRICT_MARGIN_M)
    held = [
        dask_client.submit(lambda i=i: f"another run's part {i}", key=f"smartstreet-geo-part-{i}")
        for i in range(4)
    ]
    try:
        assert dask_client.gather(held)[0] == "another run's part 0"
        campaign = _small(tmp_path)
        parts = partition_customers(campaign, tmp_path / "parts", partitions=4)
        on_parts = _pointing_at(campaign, parts.path, campaign.parent / "parts.toml")
        _run(campaign, tmp_path / "ref")
        _run(on_parts, tmp_path / "got", "--scheduler", dask_client.scheduler.address)
        _assert_same_outputs(tmp_path / "ref", tmp_path / "got")
    finally:
        dask_client.cancel(held)


def test_overwrite_never_deletes_a_folder_of_other_files(tmp_path) -> None:
    """``overwrite=True`` (``partition --force``) replaces parts, not e.g. the input folder."""
    campaign = _small(tmp_path)
    before = sorted(p.name for p in campaign.parent.iterdir())
    with pytest.raises(ParameterError, match="not a folder of parts"):
        partition_customers(campaign, campaign.parent, partitions=2, overwrite=True)
    assert sorted(p.name for p in campaign.parent.iterdir()) == before
    (tmp_path / "a_file").write_text("x", encoding="utf-8")
    with pytest.raises(ParameterError, match="not a folder of parts"):
        partition_customers(campaign, tmp_path / "a_file", partitions=2, overwrite=True)
    (tmp_path / "empty").mkdir()
    first = partition_customers(campaign, tmp_path / "empty", partitions=2, overwrite=True)
    again = partition_customers(campaign, first.path, partitions=3, overwrite=True)
    assert len(again.parts) == 3


def test_parts_made_with_other_settings_are_refused(tmp_path) -> None:
    """Parts made without ``[locate]`` (or with another column mapping) are not run with it.

    Rows without coordinates were rejected when the parts were made, so nothing kept a row
    that ``[locate]`` places with the other customers of its premise: run with ``[locate]``,
    such a premise got a letter from each of two parts, silently.
    """
    campaign = _small(tmp_path)
    folder = campaign.parent
    frame = pd.read_parquet(folder / "customers.parquet")
    unplaced = frame.index[frame["easting"].isna() & frame["substation_id"].str.startswith("WGT")]
    egr = frame.index[frame["easting"].notna() & frame["substation_id"].str.startswith("EGR")]
    # rows without coordinates that [locate] places at the premise of an Egremont customer
    same = ["premise_id", "address_line_1", "address_line_2", "address_line_3", "post_town",
            "postcode"]  # fmt: skip
    frame.loc[unplaced[:20], same] = frame.loc[egr[:20], same].to_numpy()
    frame.to_parquet(folder / "customers.parquet", index=False)
    text = campaign.read_text(encoding="utf-8")
    without = folder / "without_locate.toml"
    without.write_text(text[: text.index("[locate]")] + text[text.index("[output]") :])
    parts = partition_customers(without, tmp_path / "parts", partitions=4)
    on_parts = _pointing_at(campaign, parts.path, folder / "parts.toml")
    with pytest.raises(ConfigError, match="partitioned with other campaign settings"):
        run_campaign(on_parts)
    # parts made with the campaign's own settings give its outputs
    partition_customers(campaign, tmp_path / "parts", partitions=4, overwrite=True)
    _run(campaign, tmp_path / "ref")
    _run(on_parts, tmp_path / "got")
    _assert_same_outputs(tmp_path / "ref", tmp_path / "got")
    # another customer column mapping
    _edit(on_parts, "[scope]", '[inputs.columns.customers]\nUPRN = "premise_id"\n\n[scope]')
    with pytest.raises(ConfigError, match="customer_columns"):
        run_campaign(on_parts)


def test_located_rows_the_second_read_rejects_name_the_file(tmp_path) -> None:
    """A row ``[locate]`` places far from its postcode is rejected on the second read.

    Its reject message names the input. In process it said "DataFrame row 304" (the located
    rows were read again as a frame with no name), on parts "customers.parquet row 304" (a
    part's frame carries the file's name); both now name the file (locate/_reread.py).
    """
    campaign = _small(tmp_path)
    folder = campaign.parent
    frame = pd.read_parquet(folder / "customers.parquet")
    unplaced = frame.index[frame["easting"].isna() & frame["substation_id"].str.startswith("WGT")]
    egr = frame.index[frame["easting"].notna() & frame["substation_id"].str.startswith("EGR")]
    # a Wigton postcode with an Egremont UPRN: placed by the UPRN, 25 km from its district
    frame.loc[unplaced[:5], "premise_id"] = frame.loc[egr[:5], "premise_id"].to_numpy()
    frame.to_parquet(folder / "customers.parquet", index=False)
    ref, got = _both(campaign, tmp_path)
    rejects = pd.read_csv(ref / "rejects.csv", dtype=str)
    mismatch = rejects[rejects["reason_code"] == "postcode_location_mismatch"]
    assert len(mismatch) and mismatch["message"].str.startswith("customers.parquet row ").all()
    _assert_same_outputs(ref, got)

"""The readers on the bundled demo data: every planted defect caught, nothing else rejected."""

from __future__ import annotations

import pandas as pd

import smartstreet_geo as ssg


def test_customer_rejects_are_exactly_the_planted_defects():
    result = ssg.read_customers(ssg.demo.path("customers"))
    defects = pd.read_csv(ssg.demo.path("defects"), dtype={"customer_id": str})
    expected = dict(zip(defects["source_row"], defects["defect"], strict=True))
    got = dict(zip(result.rejects["row_number"], result.rejects["reason_code"], strict=True))
    assert got == expected
    assert result.n_valid + result.n_rejected == result.n_input == 85_820
    assert result.data["customer_id"].is_unique


def test_equipment_and_network_read_cleanly():
    equipment = ssg.read_equipment(ssg.demo.path("equipment"))
    assert equipment.n_rejected == 0
    assert set(equipment.data["kind"]) == {k.value for k in ssg.EquipmentKind}
    net = ssg.read_network(ssg.demo.path("network_edges"), ssg.demo.path("substations"))
    assert len(net.rejects) == 0
    assert net.edges["normally_open"].sum() > 100

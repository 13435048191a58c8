"""Optional power-flow check of an outage plan with pandapower (imported only when asked)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..schema import EDGE_ID, NODE
from ._backfeed import OutagePlan

__all__ = ["PowerFlowCheck", "power_flow_check"]

#: Statutory LV voltage range in Great Britain: 230 V +10 % / -6 % (ESQCR 2002), per unit.
V_MIN_PU, V_MAX_PU = 0.94, 1.10


@dataclass(frozen=True, eq=False)
class PowerFlowCheck:
    """Voltages and loadings of the network switched as a plan says.

    Attributes
    ----------
    converged : bool
        Whether the power flow converged.
    buses : DataFrame
        One row per network node mapped to a bus: ``node``, ``bus``,
        ``supplied`` (false for buses left without supply), ``vm_pu`` (the
        lowest phase voltage for a three-phase run; missing when unsupplied).
    lines : DataFrame
        One row per network edge mapped to a line: ``edge_id``, ``line``,
        ``in_service``, ``loading_percent`` (the highest phase).
    trafos : DataFrame
        ``trafo``, ``loading_percent``.
    summary : dict
        ``vm_min_pu``, ``vm_max_pu`` (over supplied buses),
        ``max_line_loading_percent``, ``max_trafo_loading_percent``,
        ``voltage_violations`` (supplied buses outside ``[v_min_pu, v_max_pu]``),
        ``overloaded_lines`` and ``overloaded_trafos`` (loading above
        ``max_loading_percent``) and ``ok`` (converged, no violation, no overload).
    """

    converged: bool
    buses: pd.DataFrame
    lines: pd.DataFrame
    trafos: pd.DataFrame
    summary: dict[str, Any]


def power_flow_check(
    plan: OutagePlan,
    pp_net: Any,
    *,
    line_of_edge: Mapping[str, int] | None = None,
    bus_of_node: Mapping[str, int] | None = None,
    three_phase: bool = False,
    v_min_pu: float = V_MIN_PU,
    v_max_pu: float = V_MAX_PU,
    max_loading_percent: float = 100.0,
    options: Mapping[str, Any] | None = None,
) -> PowerFlowCheck:
    """Run a power flow of the network as the plan switches it (pandapower).

    Where line and transformer data exist for the network (a pandapower model,
    such as the IEEE European LV Test Feeder), this reports the voltages and
    loadings of the backfed network: the isolated cables out of service (an
    isolated node's bus out of service), the plan's normally-open points in
    service. The model is copied; ``pp_net`` is not changed. In the model a
    normally-open point is a line out of service.

    Parameters
    ----------
    plan : OutagePlan
    pp_net : pandapowerNet
    line_of_edge : mapping of str to int, optional
        Network edge id -> pandapower line index (default: the line whose
        ``name`` is the edge id). Every isolated edge and every point to
        close must be mapped.
    bus_of_node : mapping of str to int, optional
        Network node id -> pandapower bus index (default: the bus whose
        ``name`` is the node id). Every isolated node must be mapped.
    three_phase : bool, default False
        Run ``pandapower.runpp_3ph`` (unbalanced loads) instead of ``runpp``.
    v_min_pu, v_max_pu : float
        Voltage range, per unit (default 0.94-1.10, the GB statutory LV range).
    max_loading_percent : float, default 100
    options : mapping, optional
        Passed to ``runpp``/``runpp_3ph`` (e.g. ``{"numba": False}`` to skip
        pandapower's compilation on a small network).

    Returns
    -------
    PowerFlowCheck

    Raises
    ------
    ImportError
        pandapower is not installed (it is needed only for this check).
    ParameterError
        An element the plan switches has no line or bus in the model.
    """
    try:
        with warnings.catch_warnings():  # pandapower's own imports warn under new pandas
            warnings.simplefilter("ignore")
            import pandapower as pp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the power-flow check needs pandapower (pip install pandapower); the plan itself "
            "does not."
        ) from exc
    net = copy.deepcopy(pp_net)
    lines = _mapping(line_of_edge, net.line, "line")
    buses = _mapping(bus_of_node, net.bus, "bus")
    iso_lines: list[int] = []
    iso_buses: list[int] = []
    for element in plan.elements:
        kind, _, ident = element.partition(":")
        table, where = (lines, "line_of_edge") if kind == "edge" else (buses, "bus_of_node")
        if ident not in table:
            raise ParameterError(
                f"isolated {kind} {ident!r} has no {'line' if kind == 'edge' else 'bus'} in the "
                f"pandapower model; give {where}."
            )
        (iso_lines if kind == "edge" else iso_buses).append(table[ident])
    missing = [p for p in plan.points_to_close if p not in lines]
    if missing:
        raise ParameterError(
            f"points to close {missing[:5]!r} have no line in the pandapower model; give "
            "line_of_edge."
        )
    net.line.loc[iso_lines, "in_service"] = False
    net.bus.loc[iso_buses, "in_service"] = False
    net.line.loc[[lines[p] for p in plan.points_to_close], "in_service"] = True
    converged = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            (pp.runpp_3ph if three_phase else pp.runpp)(net, **dict(options or {}))
        except pp.powerflow.LoadflowNotConverged:
            converged = False
    if three_phase:
        vm = net.res_bus_3ph[["vm_a_pu", "vm_b_pu", "vm_c_pu"]].min(axis=1, skipna=False)
        line_load = net.res_line_3ph["loading_percent"]
        trafo_load = net.res_trafo_3ph["loading_percent"]
    else:
        vm = net.res_bus["vm_pu"]
        line_load = net.res_line["loading_percent"]
        trafo_load = net.res_trafo["loading_percent"]
    if not converged:
        vm = pd.Series(np.nan, index=net.bus.index)
        line_load = pd.Series(np.nan, index=net.line.index)
        trafo_load = pd.Series(np.nan, index=net.trafo.index)
    node_ids = list(buses)
    bus_idx = [buses[n] for n in node_ids]
    v = vm.reindex(bus_idx).to_numpy(dtype=float)
    bus_frame = pd.DataFrame(
        {
            NODE: pd.Series(node_ids, dtype="str"),
            "bus": np.asarray(bus_idx, dtype=np.int64),
            "supplied": np.isfinite(v),
            "vm_pu": v,
        }
    )
    edge_ids = list(lines)
    line_idx = [lines[e] for e in edge_ids]
    line_frame = pd.DataFrame(
        {
            EDGE_ID: pd.Series(edge_ids, dtype="str"),
            "line": np.asarray(line_idx, dtype=np.int64),
            "in_service": net.line.loc[line_idx, "in_service"].to_numpy(dtype=bool),
            "loading_percent": line_load.reindex(line_idx).to_numpy(dtype=float),
        }
    )
    trafo_frame = pd.DataFrame(
        {
            "trafo": net.trafo.index.to_numpy(dtype=np.int64),
            "loading_percent": trafo_load.reindex(net.trafo.index).to_numpy(dtype=float),
        }
    )
    sv = v[np.isfinite(v)]
    ll = line_frame["loading_percent"].to_numpy()
    tl = trafo_frame["loading_percent"].to_numpy()
    summary: dict[str, Any] = {
        "vm_min_pu": float(sv.min()) if len(sv) else float("nan"),
        "vm_max_pu": float(sv.max()) if len(sv) else float("nan"),
        "max_line_loading_percent": float(np.nanmax(ll)) if np.isfinite(ll).any() else float("nan"),
        "max_trafo_loading_percent": float(np.nanmax(tl))
        if np.isfinite(tl).any()
        else float("nan"),
        "voltage_violations": int(((sv < v_min_pu) | (sv > v_max_pu)).sum()),
        "overloaded_lines": int((np.nan_to_num(ll) > max_loading_percent).sum()),
        "overloaded_trafos": int((np.nan_to_num(tl) > max_loading_percent).sum()),
    }
    summary["ok"] = bool(
        converged
        and summary["voltage_violations"] == 0
        and summary["overloaded_lines"] == 0
        and summary["overloaded_trafos"] == 0
    )
    return PowerFlowCheck(converged, bus_frame, line_frame, trafo_frame, summary)


def _mapping(given: Mapping[str, int] | None, table: pd.DataFrame, what: str) -> dict[str, int]:
    if given is not None:
        out = {str(k): int(v) for k, v in given.items()}
        bad = [k for k, v in out.items() if v not in table.index]
        if bad:
            raise ParameterError(f"{what}s for {bad[:5]!r} are not in the pandapower model.")
        return out
    names = table["name"].astype("str")
    dup = names[names.duplicated()]
    if len(dup):
        raise ParameterError(
            f"pandapower {what} names repeat ({', '.join(dup.unique()[:5])}); give the mapping."
        )
    return dict(zip(names.tolist(), table.index.astype(int).tolist(), strict=True))

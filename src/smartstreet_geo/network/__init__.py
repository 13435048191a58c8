"""Circuits as graphs: membership by feeder, connectivity and inference; outage impact.

Two questions about the electrical network, not distance (a customer across the
road may be on a different feeder):

* who is on a circuit (:func:`circuit_members`): by the customer's declared
  ``circuit_id``, by connectivity (fed through the circuit's head without
  crossing a normally-open point) or, for customers without a connection node,
  by inference from the nearest cable, with a confidence and a
  ``needs_review`` flag; :func:`reconcile_circuits` puts the three side by side
  and flags every disagreement;
* who loses supply when a switch, cable section, node or piece of equipment is
  isolated (:func:`downstream_customers`), respecting normally-open points and
  closed rings (a customer fed from two directions is not cut off by one
  isolation);
* how to keep supply while equipment is installed (:func:`plan_outage`): the
  de-energised parts, the normally-open points that can backfeed them (one per
  part: the network stays radial), the donor circuits' loading, and where a
  temporary generator would restore a part no point can; with a pandapower
  model of the network, :func:`power_flow_check` runs the backfed network.

A :class:`Network` is built once from the edges and substations read by
:func:`smartstreet_geo.read_network`; :meth:`Network.validate` reports closed
cycles, unfed parts, customers with unknown connection nodes and circuits with
no customers, with ids. :meth:`Network.attach` places customers once for
repeated queries. Nothing here reads files or logs personal data.
"""

from __future__ import annotations

from ._attach import AttachedCustomers
from ._backfeed import BackfeedPlanner, LoadingLimit, OutagePlan, PlanWeights, plan_outage
from ._graph import DEFAULT_MAX_DISTANCE_M, DEFAULT_REVIEW_MARGIN_M, Network
from ._members import METHODS, STATUSES, circuit_members, reconcile_circuits
from ._outage import downstream_customers, equipment_isolation_points
from ._powerflow import PowerFlowCheck, power_flow_check
from ._validate import ISSUES

__all__ = [
    "DEFAULT_MAX_DISTANCE_M",
    "DEFAULT_REVIEW_MARGIN_M",
    "ISSUES",
    "METHODS",
    "STATUSES",
    "AttachedCustomers",
    "BackfeedPlanner",
    "LoadingLimit",
    "Network",
    "OutagePlan",
    "PlanWeights",
    "PowerFlowCheck",
    "circuit_members",
    "downstream_customers",
    "equipment_isolation_points",
    "plan_outage",
    "power_flow_check",
    "reconcile_circuits",
]

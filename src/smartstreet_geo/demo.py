"""The bundled demo data: fictional customers on real postcodes in the Smart Street areas.

See ``data/README.md`` in the source tree for how it was made. Contains OS data
© Crown copyright and database right.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

__all__ = ["FILES", "path"]

#: Logical name -> file name of each bundled demo file.
FILES = {
    "customers": "customers.parquet",
    "equipment": "equipment.csv",
    "network_edges": "network_edges.parquet",
    "substations": "substations.parquet",
    "circuits": "circuits.csv",
    "defects": "defects.csv",
    "psr_needs_codes": "psr_needs_codes.csv",
    "campaign": "campaign.toml",
    # extracts for placing customers without coordinates ([locate]), in the published formats
    "uprn_gazetteer": "osopenuprn_demo.zip",
    "addresses": "addressbase_plus_demo.zip",
    "codepoint": "codepo_demo.zip",
}


def path(name: str) -> Path:
    """Return the path of a bundled demo file.

    Parameters
    ----------
    name : str
        One of :data:`FILES`: ``"customers"``, ``"equipment"``,
        ``"network_edges"``, ``"substations"``, ``"circuits"``, ``"defects"``,
        ``"psr_needs_codes"``, ``"campaign"``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from smartstreet_geo import demo
    >>> demo.path("customers").name
    'customers.parquet'
    """
    try:
        filename = FILES[name]
    except KeyError:
        raise ValueError(f"no demo file {name!r}; choose one of {', '.join(FILES)}") from None
    resource = files("smartstreet_geo").joinpath("data/demo", filename)
    with as_file(resource) as p:  # a real path for an installed (non-zip) package
        return Path(p)

import sys
from pathlib import Path

# tests import the shared catalogue as a plain module
sys.path.insert(0, str(Path(__file__).parent))


import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A real two-process Dask cluster on the loopback interface, closed at the end.

    The worker processes must import the same ``smartstreet_geo`` as the tests
    (tasks refer to its functions by name); otherwise the fixture fails.
    """
    distributed = pytest.importorskip("dask.distributed")
    import importlib

    import smartstreet_geo

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # no dashboard; its bare HTTP server on a free loopback port, not 8787, which
        # another cluster on this machine may hold (a port clash only warns, and
        # warnings are errors here)
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    try:
        client = distributed.Client(cluster)
        try:
            where = client.run(lambda: importlib.import_module("smartstreet_geo").__file__)
            if len(where) != 2 or set(where.values()) != {smartstreet_geo.__file__}:
                raise RuntimeError(
                    f"Dask workers import smartstreet_geo from {sorted(set(where.values()))}, "
                    f"the tests from {smartstreet_geo.__file__}; install the package "
                    "(pip install -e .) or set PYTHONPATH for both."
                )
            yield client
        finally:
            client.close()
    finally:
        cluster.close()

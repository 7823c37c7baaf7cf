"""Fixtures for the venue-over-FIX tests: one running `fixvenue run` per test module.

The support module is loaded by file path under a unique name (`fix_venue_support`) because
test folders have no `__init__.py`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


support = _load("fix_venue_support", HERE / "fix_venue_support.py")


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    """`fixvenue run` on the default configuration, FIX on a free loopback port."""
    proc = support.VenueProcess.start(tmp_path_factory.mktemp("venue"))
    yield proc
    proc.stop()


@pytest.fixture
async def client_factory(venue):
    """Make RawClients for the running venue; every client logs out after the test."""
    clients = []

    def make(comp_id: str, begin: str = "FIX.4.4"):
        c = support.RawClient(venue.host, venue.port, comp_id, begin)
        clients.append(c)
        return c

    yield make
    for c in clients:
        if c._writer is not None:
            await c.logout()

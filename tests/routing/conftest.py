"""Fixtures for the router tests: the OANDA and Binance simulators on loopback.

The support module is loaded by file path under a unique name (`routing_support`)
because test folders have no `__init__.py`.
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


support = _load("routing_support", HERE / "routing_support.py")


@pytest.fixture
async def oanda():
    sim = support.oanda_sim()
    await sim.start()
    yield sim
    await sim.stop()


@pytest.fixture
async def binance():
    sim = support.binance_sim()
    await sim.start()
    yield sim
    await sim.stop()

"""Shared set-up for the FIX acceptance suite and the runner's self-check.

The helper modules are loaded by file path under unique names (``fix_quickfix_peer``,
``fix_engine_server``, ``fix_acceptance_runner``, ``fix_acceptance_suite``): test
folders here have no ``__init__.py``, and a bare ``import runner`` could pick up
another folder's module of the same name.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Order matters: later modules import the earlier ones by these names.
quickfix_peer = _load("fix_quickfix_peer", REPO / "tests" / "fix_interop" / "quickfix_peer.py")
engine_server = _load("fix_engine_server", HERE / "engine_server.py")
runner = _load("fix_acceptance_runner", HERE / "runner.py")
suite = _load("fix_acceptance_suite", HERE / "acceptance_suite.py")


@pytest.fixture(scope="session")
def field_formats():
    reason = suite.missing_shared_reason()
    if reason:
        pytest.skip(reason)
    return runner.load_field_formats(suite.FIELDS_FMT)


@pytest.fixture(scope="session")
def loopback_shim(tmp_path_factory):
    """The bind() shim that keeps QuickFIX's acceptor on 127.0.0.1 (see quickfix_peer)."""
    return quickfix_peer.shim_for_tests(tmp_path_factory.mktemp("shim"))

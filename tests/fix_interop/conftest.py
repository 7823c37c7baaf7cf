"""Set-up for interop tests between our FIX engine and the real QuickFIX engine.

Helper modules are loaded by file path under unique names (``fix_quickfix_peer``,
``fix_engine_server``) because test folders have no ``__init__.py``.  QuickFIX always
runs in a subprocess: a C++ exception inside the quickfix-ssl binding aborts the whole
process, which must never take the pytest run down with it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED_SPEC = (REPO / ".." / "shared" / "fix-spec").resolve()


def _load(name: str, path: Path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# Order matters: engine_server imports fix_quickfix_peer by that name.
quickfix_peer = _load("fix_quickfix_peer", HERE / "quickfix_peer.py")
engine_server = _load("fix_engine_server", REPO / "tests" / "fix_conformance" / "engine_server.py")


@pytest.fixture(scope="session")
def quickfix_spec_dir() -> Path:
    pytest.importorskip("quickfix", reason="quickfix-ssl (import quickfix) is not installed")
    return quickfix_peer.spec_dir_for_tests(SHARED_SPEC)


@pytest.fixture(scope="session")
def interop_shim(tmp_path_factory) -> Path:
    return quickfix_peer.shim_for_tests(tmp_path_factory.mktemp("shim"))


@pytest.fixture(scope="module")
def quickfix_echo_acceptor(tmp_path_factory, quickfix_spec_dir, interop_shim):
    """QuickFIX's SocketAcceptor (ISLD; TW42/TW44) with the acceptance echo application."""
    with quickfix_peer.QuickFixAcceptor.start(
        quickfix_spec_dir, tmp_path_factory.mktemp("quickfix-acceptor"), interop_shim
    ) as acceptor:
        yield acceptor


@pytest.fixture(scope="module")
def our_conformance_server(tmp_path_factory):
    """`fixvenue conformance-server`: our acceptor with the same echo application."""
    server = engine_server.start_for_tests(tmp_path_factory.mktemp("conformance-server"))
    yield server
    server.stop()

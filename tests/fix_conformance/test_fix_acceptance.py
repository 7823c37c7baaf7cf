"""QuickFIX's session-level acceptance definitions, played against our engine.

`fixvenue conformance-server` (our asyncio acceptor running the acceptance echo
application) is started once as a subprocess; every ``.def`` under
``../shared/fix-acceptance/fix42`` and ``fix44`` is one test, named like
``fix44/14e_IncorrectEnumValue``.  ResetOnLogon=Y makes each definition start from a
fresh session, so one server serves them all; if the server dies it is restarted and
the definition that was running is failed with the server's last output.

The definitions for FIX.4.2 (TW42) and FIX.4.4 (TW44) run side by side, one stream
per session, which halves the wall time of the heartbeat/test-request definitions.
Set ``FIX_ACCEPTANCE_SERIAL=1`` to run them one after another instead, and
``FIX_CONFORMANCE_NOTES=/path/notes.md`` to get a Markdown summary of the failures.

The runner (``runner.py``) imports nothing from ``fix/``; it is checked against the
real QuickFIX engine in ``test_fix_runner_selfcheck.py``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

# loaded by conftest.py under these unique names
import fix_acceptance_runner as runner
import fix_engine_server as engine_server
import fix_quickfix_peer as quickfix_peer
from fix_acceptance_suite import definition_params, selected_definitions, streams_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conformance_server(tmp_path_factory):
    server = engine_server.start_for_tests(tmp_path_factory.mktemp("conformance-server"))
    yield server
    server.stop()


def test_conformance_server_listens_on_loopback_only(conformance_server):
    addresses = conformance_server.listening_addresses()
    if not addresses and not Path("/proc/net/tcp").exists():
        pytest.skip("no /proc/net/tcp to read listening addresses from")
    assert addresses, f"nothing listens on port {conformance_server.port}"
    assert all(quickfix_peer.is_loopback(a) for a in addresses), addresses


def test_harness_restarts_a_dead_server_and_says_why(tmp_path):
    server = engine_server.start_for_tests(tmp_path)
    try:
        first_port = server.port
        server.process.kill()  # the process this test started
        server.process.wait(timeout=10)
        port, note = server.ensure_running()
        assert server.alive() and server.starts == 2
        assert "exited with code -9" in note
        assert server.listening_addresses(), f"restarted server not listening on {port} (was {first_port})"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def engine_outcomes(request, conformance_server, field_formats):
    def one(definition):
        port, _ = conformance_server.ensure_running()
        outcome = runner.play(definition, port, field_formats)
        if not conformance_server.alive():
            outcome = dataclasses.replace(
                outcome,
                passed=False,
                detail=(
                    f"{outcome.detail}\n  the conformance server exited (code "
                    f"{conformance_server.process.returncode}) during this definition; its last output:\n"
                    f"{conformance_server.output_tail()}"
                ),
            )
        return outcome

    streams = streams_for(selected_definitions(request, __name__))
    if os.environ.get("FIX_ACCEPTANCE_SERIAL") == "1":
        streams = [[d for s in streams for d in s]]
    outcomes = runner.run_streams(streams, one)
    notes = os.environ.get("FIX_CONFORMANCE_NOTES")
    if notes:
        Path(notes).write_text(runner.summarize(outcomes, "FIX acceptance definitions vs fixvenue conformance-server"))
    return outcomes


@pytest.mark.parametrize("definition", definition_params())
def test_acceptance_definition(definition: str, engine_outcomes):
    outcome = engine_outcomes[definition]
    assert outcome.passed, outcome.detail

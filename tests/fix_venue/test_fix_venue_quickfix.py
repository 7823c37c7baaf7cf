"""The real QuickFIX engine (quickfix-ssl) trades on the venue as CLIENT1 (FIX.4.4) and
CLIENT42 (FIX.4.2), with its data dictionaries switched on: every message the venue sends must
pass QuickFIX's own validation (otherwise QuickFIX answers with a session Reject, which fails
this test), and the scenario in quickfix_client.py must complete step by step.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SHARED_SPEC = (HERE.parents[1] / ".." / "shared" / "fix-spec").resolve()
REQUIRED = ["logon", "security_list", "md_snapshot", "fix42_ack", "fix44_partial_fill", "fix42_fill",
            "md_incremental", "replace", "status", "cancel", "cancel_reject", "mass_cancel", "reject",
            "security_status_42", "reject_42", "logout"]


def _client_module():
    spec = importlib.util.spec_from_file_location("fix_venue_quickfix_client", HERE / "quickfix_client.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _spec_dir() -> Path:
    if (SHARED_SPEC / "FIX44.xml").exists():
        return SHARED_SPEC
    bundled = Path(sys.prefix) / "share" / "quickfix"
    if (bundled / "FIX44.xml").exists():
        return bundled
    pytest.skip(f"no QuickFIX data dictionaries in {SHARED_SPEC} or {bundled}")


def test_quickfix_client_trades_on_the_venue(venue, tmp_path):
    pytest.importorskip("quickfix", reason="quickfix-ssl (import quickfix) is not installed")
    client = _client_module()
    spec = _spec_dir()
    dicts = {"FIX.4.4": client.patched_fix44_dictionary(spec / "FIX44.xml", tmp_path / "FIX44-969.xml"),
             "FIX.4.2": spec / "FIX42.xml"}
    cfg = tmp_path / "client.cfg"
    cfg.write_text(client.settings_text(venue.port, dicts, tmp_path))
    report = tmp_path / "report.json"
    with open(tmp_path / "stderr.txt", "w") as err:
        proc = subprocess.run([sys.executable, str(HERE / "quickfix_client.py"), str(cfg), str(report)],
                              stdin=subprocess.DEVNULL, stdout=err, stderr=subprocess.STDOUT, timeout=180)
    assert report.exists(), (tmp_path / "stderr.txt").read_text()[-3000:]
    data = json.loads(report.read_text())
    transcript = "\n".join(f"{e['cb']:9} {e['session']:8} {e['msg']}" for e in data["events"])
    missing = [s for s in REQUIRED if data["steps"].get(s) is not True]
    assert not missing, f"steps not completed: {missing}\n{transcript}"
    rejects = [e for e in data["events"] if e["cb"] == "toAdmin" and "|35=3|" in e["msg"]]
    assert not rejects, f"QuickFIX rejected messages from the venue:\n{transcript}"
    assert proc.returncode == 0

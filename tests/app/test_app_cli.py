"""The `fixvenue` command line as a user meets it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from app.cli import COMMANDS, build_parser
from app.config import DEFAULT_CONFIG

ROOT = Path(__file__).resolve().parents[2]


def fixvenue(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, **kw)


def test_help_documents_every_command():
    r = fixvenue("--help")
    assert r.returncode == 0
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS), "every command module must exist and load"
    for name in COMMANDS:
        assert name in r.stdout


def test_bad_config_stops_start_up_with_file_key_reason(tmp_path):
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["instruments"][0]["lot_size"] = "zero"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    r = fixvenue("run", "--config", str(bad), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 2
    assert str(bad) in r.stderr and "instruments[0].lot_size" in r.stderr


def test_config_command_validates_default_file():
    r = fixvenue("config")
    assert r.returncode == 0, r.stderr
    assert "BTC-USD" in r.stdout

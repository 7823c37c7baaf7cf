"""Recording benchmark results and showing progress — shared by every benchmark."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }


def record(name: str, result: dict, json_path: str | None = None) -> Path:
    """Write `result` to bench/results/<name>-<UTC timestamp>.json and <name>-latest.json.

    If `json_path` is given the same document is also written there ("-" = stdout).
    """
    doc = {
        "benchmark": name,
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **result,
    }
    text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = RESULTS_DIR / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS_DIR / f"{name}-latest.json").write_text(text)
    if json_path == "-":
        sys.stdout.write(text)
    elif json_path:
        Path(json_path).write_text(text)
    return path


class Progress:
    """A minimal terminal progress bar (stderr), quiet when not a TTY except for
    a line every 10%, so CI logs show progress without flooding."""

    def __init__(self, total: int, label: str, stream=None) -> None:
        self.total = max(1, total)
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last_pct = -1
        self._t0 = time.perf_counter()

    def update(self, done: int) -> None:
        pct = min(100, done * 100 // self.total)
        if pct == self._last_pct:
            return
        if not self.tty and pct % 10 and pct != 100:
            return
        self._last_pct = pct
        width = 30
        fill = width * pct // 100
        elapsed = time.perf_counter() - self._t0
        line = f"{self.label} [{'#' * fill}{'.' * (width - fill)}] {pct:3d}% {elapsed:6.1f}s"
        if self.tty:
            self.stream.write("\r" + line)
            if pct == 100:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        self.update(self.total)

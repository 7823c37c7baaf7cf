"""`fixvenue bench rest`: order entry over the REST gateway, end to end.

A real venue is started as a separate process (`fixvenue run` on free ports,
a temporary data dir, the default configuration with the demo keys' rate
limits lifted), so the server gets a core of its own and the numbers include
everything a client pays for: HTTP parsing, HMAC verification, rate limiting,
pydantic validation, translation, risk checks when wired, matching, the
journal's group commit when wired, and the JSON answer. `--url` aims at a
venue that is already running instead (then it is subject to that venue's
limits).

The load generator is cheap on purpose, so that on a small machine the
server gets the CPU: `wrk` (C, epoll; `apt-get install wrk`) replaying
requests signed before the clock starts (`--load wrk`, the default when wrk is
installed), or in-process aiohttp keep-alive connections with bodies built in
advance and one HMAC per request (`--load aiohttp`). Orders are GTC limit
orders on BTC-USD from the eight demo accounts, buys and sells scattered around
the reference price so that a good part of them trade. Reported: orders/s over
the timed run, client-observed latency percentiles, status codes, and the
server process's CPU time per order.

`--server-loop uvloop` runs the spawned venue on uvloop instead of asyncio's
default loop (what `fixvenue run` uses today), to show what that would change.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson
import yaml

from api.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from app.config import DEFAULT_CONFIG, PROJECT_ROOT
from bench.record import Progress, record

TARGET = "/api/v1/orders"
ACCOUNTS = [f"DEMO{i}" for i in range(1, 9)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


WITHOUT = {   # parts of the venue a run can leave out, to see what each costs
    "sql": ("storage", {"sql": False}),
    "journal": ("storage", {"journal": False}),
    "fix": ("fix", {"enabled": False}),
    "risk": ("risk", {"enabled": False}),
}


def _bench_config(tmp: Path, source: Path, without: list[str] = ()) -> tuple[Path, dict[str, str]]:
    """The venue config with the trader rate limit lifted and a signature window long
    enough for pre-signed requests; returns (path, key id -> secret)."""
    raw = yaml.safe_load(source.read_text())
    for part in without:
        section, values = WITHOUT[part]
        raw[section] = {**(raw.get(section) or {}), **values}
    rest = raw.setdefault("rest", {})
    rest.setdefault("rate_limits", {})["trader"] = {"rate": 1_000_000, "burst": 1_000_000}
    rest["signature_window_s"] = 900
    path = tmp / "bench-venue.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    keys = {k["id"]: k["secret"] for k in rest.get("keys", []) if k.get("account") in ACCOUNTS
            and k.get("role", "trader") == "trader" and "secret" in k}
    return path, keys


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Server:
    """A `fixvenue run` child process on free ports."""

    def __init__(self, tmp: Path, config: Path, loop: str, without: list[str] = ()) -> None:
        self.tmp = tmp
        cfg, self.keys = _bench_config(tmp, config, without)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / "venue.log", "wb")
        args = ["run", "--config", str(cfg), "--rest-port", str(self.port), "--fix-port", str(_free_port()),
                "--data-dir", str(tmp / "data"), "--log-level", "WARNING"]
        if loop == "uvloop":
            cmd = [sys.executable, "-c", "import sys, uvloop; uvloop.install(); from app.cli import main; "
                   "sys.exit(main(sys.argv[1:]))", *args]
        else:
            cmd = [sys.executable, "-m", "app.cli", *args]
        self.proc = subprocess.Popen(cmd, cwd=PROJECT_ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"venue exited ({self.proc.returncode}); see {self.tmp / 'venue.log'}")
                try:
                    async with s.get(self.url + "/health", timeout=aiohttp.ClientTimeout(total=1)) as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("venue did not become ready in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def make_bodies(n: int, seed: int, run_id: str) -> list[tuple[int, bytes]]:
    """(account index, JSON body) per order: GTC limits on BTC-USD around 65,000."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        acct = i % len(ACCOUNTS)
        side = "buy" if rng.random() < 0.5 else "sell"
        off = rng.randint(-20, 60)              # mostly passive, sometimes marketable
        px = 65_000 - off if side == "buy" else 65_000 + off
        qty = rng.randint(1, 50) / 10_000
        body = {"cl_ord_id": f"{run_id}-{i}", "symbol": "BTC-USD", "side": side, "order_type": "limit",
                "time_in_force": "gtc", "quantity": f"{qty:.4f}", "price": f"{px}.00"}
        out.append((acct, orjson.dumps(body)))
    return out


async def run_load(url: str, keys: list[tuple[str, bytes]], bodies: list[tuple[int, bytes]], clients: int,
                   progress: Progress | None) -> dict:
    latencies: list[float] = [0.0] * len(bodies)
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    next_i = 0
    done = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_i, done
        full = url + TARGET
        while True:
            i = next_i
            if i >= len(bodies):
                return
            next_i = i + 1
            acct, body = bodies[i]
            key_id, secret = keys[acct % len(keys)]
            ts = str(time.time_ns() // 1_000_000)
            headers = {KEY_HEADER: key_id, TIMESTAMP_HEADER: ts, "Content-Type": "application/json",
                       SIGNATURE_HEADER: signature(secret, ts, "POST", TARGET, body)}
            t0 = time.perf_counter()
            try:
                async with session.post(full, data=body, headers=headers) as r:
                    await r.read()
                    st = r.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                st = 0
            latencies[i] = time.perf_counter() - t0
            statuses[st] = statuses.get(st, 0) + 1
            done += 1

    async def ticker() -> None:
        while progress is not None and done < len(bodies):
            progress.update(done)
            await asyncio.sleep(0.2)

    conn = aiohttp.TCPConnector(limit=clients, force_close=False, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout, skip_auto_headers=("User-Agent",)) as session:
        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(clients)))
        wall = time.perf_counter() - t0
        tick.cancel()
    if progress is not None:
        progress.close()
    return {"wall_s": wall, "latencies": latencies, "statuses": statuses, "errors": errors}


_WRK_SCRIPT = r"""
-- replays pre-signed order requests (one file per wrk thread) for the run's duration;
-- if they run out, it falls back to GET /health and says so in done()
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
local reqs = {}
idx, orders, ok, total = 0, 0, 0, 0   -- globals: done() reads them with thread:get()
function init(args)
  local f = assert(io.open(args[1] .. "." .. id, "r"))
  for line in f:lines() do
    local key, ts, sig, body = line:match("^(%S+)\t(%S+)\t(%S+)\t(.*)$")
    reqs[#reqs + 1] = wrk.format("POST", "/api/v1/orders", {["Content-Type"] = "application/json",
      ["X-API-Key"] = key, ["X-API-Timestamp"] = ts, ["X-API-Signature"] = sig}, body)
  end
  f:close()
  total = #reqs
  health = wrk.format("GET", "/health")
end
function request()
  idx = idx + 1
  if idx > total then return health end
  return reqs[idx]
end
function response(status, headers, body)
  if idx <= total then orders = orders + 1 end
  if status == 201 then ok = ok + 1 end
end
function done(summary, latency, requests)
  local sent, created, exhausted = 0, 0, 0
  for _, t in ipairs(threads) do
    sent = sent + (t:get("orders") or 0)
    created = created + (t:get("ok") or 0)
    if (t:get("idx") or 0) > (t:get("total") or 0) then exhausted = 1 end
  end
  io.write(string.format("ORDERS %d CREATED %d EXHAUSTED %d\n", sent, created, exhausted))
end
"""


def run_wrk(url: str, keys: list[tuple[str, bytes]], make, count: int, duration: float, clients: int,
            threads: int, tmp: Path) -> dict:
    """Sign `count` order requests now, split them over wrk's threads, run wrk for `duration`
    seconds, parse its report."""
    threads = max(1, min(threads, clients))
    base = tmp / "requests"
    files = [open(f"{base}.{t}", "w") for t in range(threads)]
    ts = str(time.time_ns() // 1_000_000)
    for i, (acct, body) in enumerate(make(count)):
        key_id, secret = keys[acct % len(keys)]
        sig = signature(secret, ts, "POST", TARGET, body)
        files[i % threads].write(f"{key_id}\t{ts}\t{sig}\t{body.decode()}\n")
    for f in files:
        f.close()
    script = tmp / "orders.lua"
    script.write_text(_WRK_SCRIPT)
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{duration:g}s", "--timeout",
                          "30s", "--latency", "-s", str(script), url + "/health", "--", str(base)],
                         capture_output=True, text=True, timeout=duration + 300)
    text = out.stdout
    if out.returncode != 0 or "Requests/sec" not in text:
        raise RuntimeError(f"wrk failed: {out.stderr or text}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {label: float(v) * scale[u]
           for label, v, u in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    m = re.search(r"Latency\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)", text)
    dur_m = re.search(r"requests in ([\d.]+)(ms|s|m)", text)
    dur = float(dur_m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[dur_m.group(2)]
    o = re.search(r"ORDERS (\d+) CREATED (\d+) EXHAUSTED (\d+)", text)
    return {"duration_s": dur, "orders": int(o.group(1)), "created": int(o.group(2)),
            "exhausted": o.group(3) == "1", "latency_ms": lat,
            "mean_ms": float(m.group(1)) * scale[m.group(2)] if m else None,
            "max_ms": float(m.group(5)) * scale[m.group(6)] if m else None, "report": text}


def _pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return 0.0
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100 * (len(sorted_vals) - 1)))))
    return sorted_vals[k]


async def bench(args) -> dict:
    tmp_ctx = tempfile.TemporaryDirectory(prefix="fixvenue-bench-rest-")
    tmp = Path(tmp_ctx.name)
    server = None
    load = args.load or ("wrk" if shutil.which("wrk") else "aiohttp")
    try:
        if args.url:
            url = args.url.rstrip("/")
            keys = [(args.key, args.secret.encode())]
        else:
            server = Server(tmp, Path(args.config), args.server_loop, args.without)
            await server.wait_ready()
            url = server.url
            keys = [(k, s.encode()) for k, s in sorted(server.keys.items())]
            if not keys:
                raise RuntimeError("the config has no demo trader keys for DEMO1..DEMO8")
        run_id = f"b{time.time_ns()}"
        warm_rate = None
        if args.warmup:
            w0 = await run_load(url, keys, make_bodies(args.warmup, args.seed + 1, run_id + "w"), args.clients, None)
            warm_rate = args.warmup / w0["wall_s"]
        cpu0 = _cpu_seconds(server.proc.pid) if server else None
        if load == "wrk":
            if not shutil.which("wrk"):
                raise RuntimeError("--load wrk needs wrk on the PATH (apt-get install wrk)")
            # enough pre-signed orders for the run even if the server is much faster than the warm-up said
            count = min(400_000, int(max(warm_rate or 3000, 3000) * args.duration * 3) + 5000)
            w = await asyncio.to_thread(run_wrk, url, keys, lambda n: make_bodies(n, args.seed, run_id), count,
                                        args.duration, args.clients, args.wrk_threads, tmp)
            n_orders = w["orders"]
        else:
            bodies = make_bodies(args.orders, args.seed, run_id)
            res = await run_load(url, keys, bodies, args.clients, Progress(len(bodies), "bench rest"))
            n_orders = args.orders
        cpu1 = _cpu_seconds(server.proc.pid) if server else None
    finally:
        if server is not None:
            server.stop()
        tmp_ctx.cleanup()
    params = {"clients": args.clients, "warmup": args.warmup, "seed": args.seed,
              "target": "external " + args.url if args.url else
              f"spawned fixvenue run ({args.config}; trader rate limit lifted; {args.server_loop} loop"
              + (f"; without {', '.join(args.without)}" if args.without else "") + ")",
              "load_generator": f"wrk -t{max(1, min(args.wrk_threads, args.clients))} -c{args.clients} "
                                f"-d{args.duration:g}s (pre-signed requests)" if load == "wrk" else
                                "aiohttp keep-alive, in-process"}
    if load == "wrk":
        params["duration_s"] = args.duration
        out = {
            "parameters": params,
            "orders": w["orders"],
            "orders_per_s": round(w["orders"] / w["duration_s"], 1),
            "accepted": w["created"],
            "ran_out_of_orders": w["exhausted"],
            "wall_s": round(w["duration_s"], 3),
            "latency_ms": {"mean": w["mean_ms"], "p50": w["latency_ms"].get("50"), "p90": w["latency_ms"].get("90"),
                           "p99": w["latency_ms"].get("99"), "max": w["max_ms"]},
        }
    else:
        params["orders"] = args.orders
        lat = sorted(res["latencies"])
        ok = sum(v for k, v in res["statuses"].items() if 200 <= k < 300)
        out = {
            "parameters": params,
            "orders": args.orders,
            "orders_per_s": round(args.orders / res["wall_s"], 1),
            "accepted": ok,
            "statuses": {str(k): v for k, v in sorted(res["statuses"].items())},
            "client_errors": res["errors"],
            "wall_s": round(res["wall_s"], 3),
            "latency_ms": {
                "mean": round(statistics.fmean(lat) * 1000, 3),
                "p50": round(_pct(lat, 50) * 1000, 3),
                "p90": round(_pct(lat, 90) * 1000, 3),
                "p99": round(_pct(lat, 99) * 1000, 3),
                "p999": round(_pct(lat, 99.9) * 1000, 3),
                "max": round(lat[-1] * 1000, 3),
            },
        }
    out["targets"] = {"orders_per_s": 3000, "p99_ms": 20}
    if cpu0 is not None and cpu1 is not None and n_orders:
        out["server_cpu_us_per_order"] = round((cpu1 - cpu0) / n_orders * 1e6, 1)
    p99 = out["latency_ms"]["p99"]
    out["meets_targets"] = bool(out["orders_per_s"] >= 3000 and p99 is not None and p99 <= 20
                                and out["accepted"] >= out["orders"])
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="fixvenue bench rest", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=30_000, help="orders in the timed run with --load aiohttp "
                   "(default %(default)s)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds of load with wrk (default %(default)s)")
    p.add_argument("--clients", type=int, default=16, help="concurrent keep-alive connections (default %(default)s)")
    p.add_argument("--warmup", type=int, default=2_000, help="untimed orders first (default %(default)s)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--load", choices=["wrk", "aiohttp"], help="load generator (default: wrk if installed)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default %(default)s)")
    p.add_argument("--config", default=str(DEFAULT_CONFIG), help="venue config for the spawned venue")
    p.add_argument("--without", action="append", default=[], choices=sorted(WITHOUT),
                   help="leave a part out of the spawned venue (repeatable): sql store, journal, fix, risk checks")
    p.add_argument("--server-loop", choices=["asyncio", "uvloop"], default="asyncio",
                   help="event loop of the spawned venue (default %(default)s, as `fixvenue run`)")
    p.add_argument("--url", help="benchmark a running venue instead of starting one (e.g. http://127.0.0.1:8080)")
    p.add_argument("--key", default="demo1", help="API key id with --url (default %(default)s)")
    p.add_argument("--secret", default="demo-DEMO1-secret-not-for-production", help="its secret with --url")
    p.add_argument("--json", metavar="FILE", help="also write the result to FILE ('-' = stdout)")
    args = p.parse_args(argv)
    if args.orders < 1 or args.clients < 1:
        p.error("--orders and --clients must be positive")
    try:
        import uvloop   # a cheaper client loop when available (uvicorn[standard] brings it)
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        result = runner(bench(args))
    except RuntimeError as exc:
        print(f"bench rest: {exc}", file=sys.stderr)
        return 1
    path = record("rest", result, args.json)
    lat = result["latency_ms"]
    print(f"rest: {result['orders_per_s']:,.0f} orders/s over {result['parameters']['clients']} connections "
          f"({result['parameters']['load_generator']}), "
          f"latency p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
          f"{result['accepted']}/{result['orders']} accepted"
          + (f"; server CPU {result['server_cpu_us_per_order']} us/order" if "server_cpu_us_per_order" in result else "")
          + f" -> {path}")
    return 0

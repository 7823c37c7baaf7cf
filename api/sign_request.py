#!/usr/bin/env python3
"""Send one signed request to the fixvenue REST API — standard library only.

Copy this file anywhere (it does not need fixvenue installed):

    python3 sign_request.py GET  /api/v1/account
    python3 sign_request.py POST /api/v1/orders '{"symbol":"BTC-USD","side":"buy","quantity":"0.01","price":"65000"}'
    python3 sign_request.py DELETE /api/v1/orders/42

Key, secret and server come from FIXVENUE_KEY, FIXVENUE_SECRET and FIXVENUE_URL
(defaults: the demo key `demo1` of account DEMO1 and http://127.0.0.1:8080).
`--headers` prints the three auth headers instead of sending, for use with curl.

Signature = hex(HMAC-SHA256(secret, timestamp + METHOD + path?query + body)),
timestamp = milliseconds since the Unix epoch, path and query exactly as sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request


def sign(secret: str, method: str, target: str, body: bytes) -> tuple[str, str]:
    ts = str(time.time_ns() // 1_000_000)
    msg = ts.encode() + method.upper().encode() + target.encode() + body
    return ts, hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def main(argv: list[str]) -> int:
    only_headers = "--headers" in argv
    args = [a for a in argv if a != "--headers"]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    method, target = args[0].upper(), args[1]
    body = args[2].encode() if len(args) > 2 else b""
    key = os.environ.get("FIXVENUE_KEY", "demo1")
    secret = os.environ.get("FIXVENUE_SECRET", "demo-DEMO1-secret-not-for-production")
    url = os.environ.get("FIXVENUE_URL", "http://127.0.0.1:8080").rstrip("/")
    ts, sig = sign(secret, method, target, body)
    headers = {"X-API-Key": key, "X-API-Timestamp": ts, "X-API-Signature": sig}
    if only_headers:
        for k, v in headers.items():
            print(f"-H '{k}: {v}'", end=" ")
        print()
        return 0
    if body:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url + target, data=body or None, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        text = json.dumps(json.loads(text), indent=2)
    except ValueError:
        pass
    print(f"HTTP {status}\n{text}")
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

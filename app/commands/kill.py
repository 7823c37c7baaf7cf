"""`fixvenue kill ...`: activate, release or show the kill switch of a running venue.

Talks to the venue's REST admin API (POST / GET /api/v1/admin/kill-switch) with
an admin API key, signed like every request (api/signing.py). The venue
journals the switch as a command, so it survives a restart, and an activation
cancels every open order in its scope.

    fixvenue kill activate                                # global HALTED: everything stops
    fixvenue kill activate --scope account --target DEMO1 --reason "limit breach"
    fixvenue kill activate --scope instrument --target BTC-USD --state REDUCING
    fixvenue kill release --scope account --target DEMO1
    fixvenue kill status

The URL and the admin key come from the venue configuration (rest.host/port and
the first key with role admin) unless given with --url / --key-id / --secret
(or FIXVENUE_URL, FIXVENUE_ADMIN_KEY, FIXVENUE_ADMIN_SECRET).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HELP = "activate / release / show the kill switch of a running venue (global, account, session or instrument)"

PATH = "/api/v1/admin/kill-switch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["activate", "release", "status"], help="what to do")
    p.add_argument("--scope", choices=["global", "account", "session", "instrument"], default="global",
                   help="which orders the switch covers (default: global)")
    p.add_argument("--target", default="", help="account id, session origin (e.g. FIX:CLIENT1) or symbol")
    p.add_argument("--state", choices=["HALTED", "REDUCING"], default="HALTED",
                   help="HALTED: only cancels; REDUCING: only position-reducing orders (activate only)")
    p.add_argument("--reason", default="", help="why (kept in the audit trail)")
    p.add_argument("--config", "-c", default=None, help="venue YAML file for the URL and admin key "
                   "(default: config/venue.yaml)")
    p.add_argument("--url", default=os.environ.get("FIXVENUE_URL"),
                   help="venue base URL, e.g. http://127.0.0.1:8080 (default: from the config)")
    p.add_argument("--key-id", default=os.environ.get("FIXVENUE_ADMIN_KEY"), help="admin API key id")
    p.add_argument("--secret", default=os.environ.get("FIXVENUE_ADMIN_SECRET"), help="its secret")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the venue (default 10)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")


class CliError(Exception):
    pass


def _from_config(args) -> tuple[str, str | None, str | None]:
    """(base url, key id, secret) from the venue configuration."""
    from api.settings import Role, load_rest_section
    from app.config import ConfigError, load_config

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    try:
        rest = load_rest_section(cfg.rest or {}, cfg)
    except ValueError as exc:
        raise CliError(f"the rest section of the configuration is invalid: {exc}") from None
    url = f"http://{rest.host}:{rest.port}"
    for k in rest.keys:
        if k.role == Role.ADMIN:
            try:
                return url, k.id, k.resolve_secret()
            except ValueError as exc:
                raise CliError(str(exc)) from None
    return url, None, None


def request_body(args) -> dict:
    """The JSON body of POST /api/v1/admin/kill-switch."""
    if args.scope != "global" and not args.target:
        raise CliError(f"--scope {args.scope} needs --target")
    body = {"action": args.action, "scope": args.scope, "target": args.target if args.scope != "global" else "",
            "reason": args.reason}
    if args.action == "activate":
        body["state"] = args.state
    return body


def run(args: argparse.Namespace) -> int:
    import httpx

    from api.signing import sign_request

    try:
        url, key_id, secret = args.url, args.key_id, args.secret
        if not (url and key_id and secret):
            c_url, c_key, c_secret = _from_config(args)
            url = url or c_url
            if not key_id:
                key_id, secret = c_key, secret or c_secret
        if not key_id or not secret:
            raise CliError("no admin API key: give --key-id and --secret (or configure a rest key with role admin)")
        url = url.rstrip("/")
        if args.action == "status":
            method, body = "GET", b""
        else:
            method, body = "POST", json.dumps(request_body(args)).encode()
        headers = sign_request(key_id, secret, method, PATH, body)
        if body:
            headers["Content-Type"] = "application/json"
        try:
            resp = httpx.request(method, url + PATH, content=body, headers=headers, timeout=args.timeout)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the venue at {url}: {exc}") from None
    except CliError as exc:
        print(f"fixvenue kill: {exc}", file=sys.stderr)
        return 2
    try:
        doc = resp.json()
    except ValueError:
        print(f"fixvenue kill: HTTP {resp.status_code} from {url}: {resp.text[:200]}", file=sys.stderr)
        return 1
    if not doc.get("success"):
        err = doc.get("error") or {}
        print(f"fixvenue kill: refused ({resp.status_code} {err.get('code', '?')}): {err.get('message', '')}",
              file=sys.stderr)
        return 1
    data = doc.get("data") or {}
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    elif args.action == "status":
        print(f"global: {data.get('global_state')}")
        for s in data.get("scopes", []):
            if s.get("scope") == "global":
                continue
            print(f"{s.get('scope')} {s.get('target')}: {s.get('state')} ({s.get('trigger')}, by {s.get('who')}: "
                  f"{s.get('reason')})")
    else:
        where = data.get("scope", "") + (f" {data.get('target')}" if data.get("target") else "")
        print(f"kill switch {where}: {data.get('previous')} -> {data.get('state')}; "
              f"{data.get('cancelled', 0)} open order(s) cancelled")
    return 0

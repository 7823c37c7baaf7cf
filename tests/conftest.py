"""Shared fixtures (persistence, FIX store): a fresh PostgreSQL database per session, and a
`db_url` fixture that runs a test against SQLite and PostgreSQL alike.

PostgreSQL is found, in order, through DATABASE_URL (a postgresql:// URL whose server
we may create databases on) or at 127.0.0.1:5432 as user postgres / root with trust
auth (database `test`). A server that is installed but stopped is started with
`pg_ctlcluster`. With no PostgreSQL at all the PostgreSQL variants are skipped and
the reason says how to enable them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

PG_HOST = "127.0.0.1"
PG_PORT = 5432
ENABLE_HINT = ("set DATABASE_URL=postgresql+psycopg://USER@HOST:PORT/DB (a server where we may CREATE DATABASE) "
               "or install postgresql (apt-get install postgresql) so 127.0.0.1:5432 accepts user postgres")


def _connect(conninfo: str):
    import psycopg

    return psycopg.connect(conninfo, autocommit=True, connect_timeout=3)


def _admin_candidates() -> list[tuple[str, object]]:
    """(psycopg conninfo, SQLAlchemy URL of that server) to try, best first."""
    from sqlalchemy.engine import make_url

    out = []
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgresql", "postgres")):
        u = make_url(url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql+psycopg")
        conninfo = u.set(drivername="postgresql").render_as_string(hide_password=False)
        out.append((conninfo, u))
    for user in ("postgres", "root"):
        out.append((f"host={PG_HOST} port={PG_PORT} user={user} dbname=test",
                    make_url(f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/test")))
    return out


def _try_admin():
    errors = []
    for conninfo, base in _admin_candidates():
        try:
            conn = _connect(conninfo)
        except Exception as exc:  # refused, auth, missing database
            errors.append(f"{conninfo.split('password')[0]}: {str(exc).strip().splitlines()[0]}")
            continue
        return conn, base, conninfo, errors
    return None, None, None, errors


def _start_local_server() -> str | None:
    """Start an installed-but-stopped cluster; returns what was done, or None if not installed."""
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    if not versions:
        return None
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return " ".join(cmd)


@pytest.fixture(scope="session")
def pg_database():
    """A uniquely named, fresh PostgreSQL database for this test session (dropped afterwards).
    Yields its SQLAlchemy URL (postgresql+psycopg://...)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests need the psycopg package; " + ENABLE_HINT)
    admin, base, admin_info, errors = _try_admin()
    if admin is None:
        started = _start_local_server()
        if started is None:
            pytest.skip("no PostgreSQL server reachable (" + "; ".join(errors[-2:]) + "): " + ENABLE_HINT)
        deadline = time.monotonic() + 30
        while admin is None and time.monotonic() < deadline:
            time.sleep(0.5)
            admin, base, admin_info, errors = _try_admin()
        if admin is None:
            pytest.skip(f"PostgreSQL is installed but did not accept connections after `{started}` "
                        f"({'; '.join(errors[-2:])}): " + ENABLE_HINT)
    name = f"fixvenue_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        try:
            with _connect(admin_info) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except Exception as exc:  # the server went away: nothing left to clean
            print(f"could not drop test database {name}: {exc}")


def _reset_pg(url: str) -> None:
    """An empty public schema: each test starts from nothing."""
    import psycopg
    from sqlalchemy.engine import make_url

    ci = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(ci, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """A SQLAlchemy URL of an empty database: a SQLite file, or the session's PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite'}"
    url = request.getfixturevalue("pg_database")
    _reset_pg(url)
    return url

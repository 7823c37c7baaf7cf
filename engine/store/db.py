"""Opening the store's database and bringing its schema up to date.

`open_database(url)` gives a SQLAlchemy engine tuned for the job (SQLite: WAL,
foreign keys on, a busy timeout so `fixvenue export` can read while the venue
writes; PostgreSQL via psycopg 3 with pre-ping). `migrate(engine)` runs the
Alembic migrations programmatically — no alembic.ini needed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SUPPORTED = ("sqlite", "postgresql")


class StoreError(Exception):
    """The SQL store cannot be opened or used."""


def open_database(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url` (sqlite:///... or postgresql+psycopg://...)."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, echo=echo, pool_pre_ping=not url.startswith("sqlite"))
    except Exception as exc:  # bad URL, missing driver
        raise StoreError(f"cannot open database {url.split('@')[-1]}: {exc}") from None
    if engine.dialect.name not in SUPPORTED:
        raise StoreError(f"database dialect {engine.dialect.name!r} is not supported (use SQLite or PostgreSQL)")
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")      # readers do not block the writer
            cur.execute("PRAGMA synchronous=NORMAL")    # atomic and crash-safe in WAL mode
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()
    return engine


def alembic_config(engine_or_conn=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine_or_conn is not None:
        cfg.attributes["connection"] = engine_or_conn
    return cfg


def migrate(engine: Engine, revision: str = "head") -> str | None:
    """Upgrade the schema to `revision`; returns the revision the database is at afterwards."""
    import logging

    from alembic import command

    alembic_log = logging.getLogger("alembic")
    if alembic_log.level == logging.NOTSET:
        alembic_log.setLevel(logging.WARNING)     # "Context impl ..." at every start is noise
    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), revision)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StoreError(f"the store database {engine.url.render_as_string(hide_password=True)} cannot be "
                         f"opened or migrated: {first}") from exc
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()

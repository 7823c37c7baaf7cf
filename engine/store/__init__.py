"""The SQL store: the venue's queryable record (orders, executions, trades,
positions, balances, kill-switch and halt state, audit log).

The journal, not this store, is the source of truth: the store is written in
batches off the matching path by `writer.StoreWriter` and catches up from the
journal after a crash. SQLite file by default, PostgreSQL when DATABASE_URL is
set. Import the submodules you need (`settings` is light; `models`, `db`,
`writer` pull in SQLAlchemy).
"""

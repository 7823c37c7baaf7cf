"""The smart order router: client orders to the internal book, external venues, or both.

* `policy.py`   — the `routing:` config section (venues, per-instrument policies);
* `planner.py`  — pure allocation across venues (best price sweep, pro-rata split);
* `children.py` — parent/child bookkeeping, fill aggregation, the audit trail;
* `commands.py` — the router's journaled commands (every external outcome);
* `router.py`   — `SmartOrderRouter`, the deterministic core (engine.oms.OrderRouter);
* `dispatch.py` — `RouterDispatcher`, the asyncio side that talks to the adapters.

Importing this package is cheap (no adapter libraries); `app/wiring_routing.py`
builds the adapters. Importing `venues.router.commands` registers the command
kinds with the engine, which a journal replay needs.
"""

from venues.router import commands as _commands  # noqa: F401  (registers the command kinds)

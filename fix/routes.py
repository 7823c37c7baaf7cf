"""Who gets which message: the venue's FIX sessions indexed by origin, account and role.

Every command the gateway submits carries its session's origin ("FIX:<client CompID>"), and
every order remembers the origin that entered it, so execution reports go back to the session
the order came from. Orders entered elsewhere (REST, admin) are reported to the trading
session(s) whose default account is the order's account. Drop-copy sessions receive every
execution report of the accounts they copy, whatever the origin.
"""

from __future__ import annotations

from .mapping import Dialect, dialect
from .venue_config import VenueSessionModel


class Route:
    """One venue session as the gateway sees it: policy, FIX handle, dialect."""

    __slots__ = ("policy", "handle", "session", "dialect", "origin", "accounts", "read_only", "store", "comp_id")

    def __init__(self, policy: VenueSessionModel, handle) -> None:
        self.policy = policy
        self.handle = handle
        self.session = handle.session
        self.dialect: Dialect = dialect(policy.begin_string)
        self.origin = policy.origin
        self.accounts = frozenset(policy.all_accounts)
        self.read_only = policy.role == "drop_copy"
        self.store = handle.session.store
        self.comp_id = policy.comp_id

    def send(self, msg) -> None:
        """Queue an application message (stored now, written to the socket on `flush`)."""
        self.session.send(msg)

    def commit(self) -> None:
        commit = getattr(self.store, "commit", None)
        if commit is not None:
            commit()

    def flush(self) -> None:
        # SessionHandle has no public "write what is queued" yet (requested); _flush is it.
        self.handle._flush()

    def __repr__(self) -> str:
        return f"Route({self.origin})"


class RoutingTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.by_origin: dict[str, Route] = {}
        self.by_handle: dict[int, Route] = {}
        self.by_account: dict[str, list[Route]] = {}
        self.copies: dict[str, list[Route]] = {}

    def add(self, route: Route) -> None:
        self.routes.append(route)
        self.by_origin[route.origin] = route
        self.by_handle[id(route.handle)] = route
        if route.read_only:
            for acct in route.accounts:
                self.copies.setdefault(acct, []).append(route)
        elif route.policy.account:
            self.by_account.setdefault(route.policy.account, []).append(route)

    def for_handle(self, handle) -> Route | None:
        return self.by_handle.get(id(handle))

"""OANDA streams on threads: the transaction feed (with gap fill) and pricing.

oandapyV20 is synchronous and its streams are blocking generators, so each
stream runs on its own daemon thread and hands messages to the event loop with
`call_soon_threadsafe`. A stream that errors, ends, or stays silent longer than
the read timeout is reopened with exponential back-off.

The transaction feed delivers every transaction exactly once and in id order:

* it starts from the account's lastTransactionID at connect time;
* a transaction id at or below the last delivered one is a duplicate and dropped;
* a jump in ids, a heartbeat whose lastTransactionID is ahead, or a (re)connect
  triggers a gap fill with ``GET transactions/sinceid?id=<last delivered>``.

Stopping is cooperative: a blocked read ends at the next heartbeat (or read
timeout), then the thread sees the stop flag. A stopped worker never delivers
again, even if its thread is still winding down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import oandapyV20.endpoints.transactions as v20_transactions

from venues.adapter import ConnectionState

log = logging.getLogger(__name__)


class StreamWorker:
    """One reconnecting oandapyV20 stream on a daemon thread."""

    def __init__(
        self,
        *,
        name: str,
        make_api: Callable[[], Any],
        make_endpoint: Callable[[], Any],
        on_message: Callable[[dict[str, Any]], None],
        on_state: Callable[[ConnectionState, str | None], None],
        on_open: Callable[[Any], None] | None = None,
        backoff: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.name = name
        self._make_api = make_api
        self._make_endpoint = make_endpoint
        self._on_message = on_message
        self._on_state = on_state
        self._on_open = on_open
        self._backoff = backoff
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.connects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self._backoff[0]
        while not self._stop.is_set():
            api = self._make_api()
            detail: str | None = "stream ended"
            try:
                endpoint = self._make_endpoint()
                opened = False
                for message in api.request(endpoint):
                    if self._stop.is_set():
                        break
                    if not opened:
                        opened = True
                        self.connects += 1
                        delay = self._backoff[0]
                        self._on_state(ConnectionState.CONNECTED, None)
                        if self._on_open is not None:
                            self._on_open(api)
                    self._on_message(message)
            except Exception as exc:  # any failure means: reconnect
                detail = f"{type(exc).__name__}: {exc}"[:300]
            finally:
                try:
                    api.close()
                except Exception:
                    pass
            if self._stop.is_set():
                break
            log.info("%s stream lost (%s); retrying in %.2fs", self.name, detail, delay)
            self._on_state(ConnectionState.RECONNECTING, detail)
            self._stop.wait(delay)
            delay = min(delay * 2, self._backoff[1])


class TransactionSequencer:
    """Exactly-once, in-order delivery of v20 transactions, with sinceid gap fill.

    Runs on the feed thread; `request(api, endpoint)` performs one REST call.
    """

    def __init__(self, account_id: str, last_id: int, deliver: Callable[[dict[str, Any]], None]) -> None:
        self.account_id = account_id
        self.last_id = last_id
        self._deliver = deliver
        self._lock = threading.Lock()
        self.gap_fills = 0

    def on_message(self, api: Any, message: dict[str, Any]) -> None:
        with self._lock:
            if message.get("type") == "HEARTBEAT":
                last = _int(message.get("lastTransactionID"))
                if last is not None and last > self.last_id:
                    self._fill(api)
                return
            tid = _int(message.get("id"))
            if tid is None or tid <= self.last_id:
                return
            if tid > self.last_id + 1:
                self._fill(api)
                if tid <= self.last_id:
                    return
            self._emit(message)

    def fill(self, api: Any) -> None:
        with self._lock:
            self._fill(api)

    def _fill(self, api: Any) -> None:
        self.gap_fills += 1
        for _ in range(10_000):  # pages of up to 1000 transactions; bounded
            endpoint = v20_transactions.TransactionsSinceID(self.account_id, params={"id": str(self.last_id)})
            body = api.request(endpoint)
            progressed = False
            for tx in body.get("transactions", []):
                tid = _int(tx.get("id"))
                if tid is not None and tid > self.last_id:
                    self._emit(tx)
                    progressed = True
            newest = _int(body.get("lastTransactionID"))
            if not progressed or newest is None or self.last_id >= newest:
                return

    def _emit(self, tx: dict[str, Any]) -> None:
        self.last_id = int(tx["id"])
        self._deliver(tx)


def _int(raw: Any) -> int | None:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None

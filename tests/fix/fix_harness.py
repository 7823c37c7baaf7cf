"""Helpers for driving the sans-IO FIX session without sockets (imported by tests/fix).

`Counterparty` plays the other side of a `fix.session.Session`: it builds correctly
framed messages with its own sequence numbers, feeds them in, and decodes what the
session answered. Time is a `FakeClock`, so heartbeat and timeout tests are exact and
instant. The module name is unique on purpose: test folders have no __init__.py.
"""

from __future__ import annotations

from fix.codec import FrameReader, Message, decode, encode_fields
from fix.config import SessionConfig
from fix.session import NEED_DATA, Session
from fix.store import MemoryStore
from fix.timestamps import format_utc

T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


class Counterparty:
    """The remote side: CompIDs mirrored, its own outbound sequence number."""

    def __init__(self, session: Session, clock: FakeClock) -> None:
        self.session = session
        self.clock = clock
        self.begin = session.begin_string
        self.sender = session.config.target_comp_id
        self.target = session.config.sender_comp_id
        self.seq = 1
        self.events: list = []

    def frame(self, msg_type: str, fields=(), *, seq: int | None = None, sending_time: bytes | None = None,
              header=(), begin: str | None = None, sender: str | None = None, target: str | None = None) -> bytes:
        if seq is None:
            seq = self.seq
            self.seq += 1
        pairs = [(8, begin or self.begin), (35, msg_type), (34, seq), (49, sender or self.sender),
                 (52, sending_time or format_utc(self.clock(), 0)), (56, target or self.target)]
        pairs.extend(header)
        pairs.extend(fields)
        return encode_fields(pairs)

    def feed(self, data: bytes) -> list:
        self.session.receive_data(data)
        return self.drain()

    def drain(self) -> list:
        out = []
        while True:
            ev = self.session.next_event()
            if ev is NEED_DATA:
                break
            out.append(ev)
        self.events.extend(out)
        return out

    def send(self, msg_type: str, fields=(), **kw) -> list:
        return self.feed(self.frame(msg_type, fields, **kw))

    def replies(self) -> list[Message]:
        reader = FrameReader()
        reader.feed(self.session.data_to_send())
        out = []
        while (f := reader.next_frame()) is not None:
            out.append(decode(f))
        return out

    def logon(self, heartbeat: int = 30, extra=()) -> list[Message]:
        self.send("A", [(98, 0), (108, heartbeat), *extra])
        return self.replies()


def make_session(clock: FakeClock | None = None, store=None, initiator: bool = False, **cfg) -> Session:
    params = dict(begin_string="FIX.4.4", sender_comp_id="VENUE", target_comp_id="CLIENT", heartbeat_interval=30)
    params.update(cfg)
    config = SessionConfig(**params)
    session = Session(config, store if store is not None else MemoryStore(), initiator=initiator,
                      clock=clock or FakeClock())
    return session

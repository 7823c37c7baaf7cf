"""FIX tag=value codec: framing, BodyLength/CheckSum, field lists, encoding.

Why it looks like this: parsing and encoding sit on every message's path, so the fast
paths are a handful of C-level bytes operations, not per-field Python loops. Every one of
them was measured (bench/codec.py; instruction counts under valgrind to compare variants
on a shared machine): on CPython each extra C call costs about as much as splitting three
fields, so checks are merged into dict and set lookups wherever one lookup can do.

* `decode()` turns one complete frame into a `Message`: one `replace` + `split` gives
  alternating tag and value tokens (every field holds exactly one '=' unless a value
  contains '=' or a data field carries raw bytes; both fall back to an exact
  field-by-field scan). CheckSum text and BodyLength are each one dict lookup, the byte
  sum one `adler32`, and one `frozenset.issuperset` proves every tag is a number and
  none starts a data field. Tags stay bytes (b"35"); the tag index is built on first read.
* `zlib.adler32`'s low 16 bits are the byte sum modulo 65521 (started from 0), which is
  the exact byte sum for up to 256 bytes, or 515 ASCII bytes; longer input is chunked.
* `FrameReader` cuts a byte stream into frames the way QuickFIX does (find "8=FIX",
  read BodyLength, then the first "<SOH>10=" at or after the declared end), so a frame
  with a wrong BodyLength is still isolated and then rejected as garbled. Its buffer
  is bounded: an oversized or endless message is cut off and the reader resynchronises
  on the next "8=FIX". A read holding exactly one frame is handed on without a copy.
* Outbound messages keep their fields as pre-joined b"tag=value" parts, so encoding the
  body is one `join`; `Encoder` adds a pre-encoded header per session and keeps the
  "49=..52=<time>..56=.." text for the current millisecond.
* Repeating groups are parsed lazily: `Message.group()` walks the flat field list with a
  group definition from the data dictionary only when someone asks for the group.
"""

from __future__ import annotations

import datetime as _dt
import math
import zlib
from decimal import Decimal
from typing import Iterable, Iterator

from .errors import GarbledMessage, LocalProtocolError
from .timestamps import format_utc

SOH = b"\x01"
_adler32 = zlib.adler32

# Data (raw bytes) fields and the tag carrying their length: data tag = length tag + 1,
# except Signature (89) whose length is SignatureLength (93).
DATA_LENGTH_TAGS: frozenset[bytes] = frozenset(
    b"%d" % t for t in (90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360, 362, 364, 445, 618, 621, 1184, 1277, 1401)
)

# int tag -> b"tag" and b"tag=" (precomputed for the common range; others are built on demand)
# Header tags of FIX 4.2/4.4/FIXT 1.1 (a superset): appending one marks an outbound
# message as carrying its own header fields, which sends it down the encoder's slow path.
HEADER_TAGS: frozenset[int] = frozenset({
    8, 9, 34, 35, 43, 49, 50, 52, 56, 57, 90, 91, 97, 115, 116, 122, 128, 129, 142, 143, 144, 145,
    212, 213, 347, 369, 370, 627, 628, 629, 630, 1128, 1129, 1156})

_TAG_LIMIT = 10000
TAG_BYTES: list[bytes] = [b"%d" % i for i in range(_TAG_LIMIT)]
TAG_EQ: dict[int, bytes] = {i: b"%d=" % i for i in range(1, _TAG_LIMIT)}


# the same without header tags: a KeyError sends a message carrying header fields (or odd
# tags / non-bytes values) to the careful path, so the common case is one comprehension
BODY_TAG_EQ: dict[int, bytes] = {t: v for t, v in TAG_EQ.items() if t not in HEADER_TAGS}


def _tag_eq(tag: int) -> bytes:
    """b"tag=" for any valid tag (outbound tags must be positive integers)."""
    try:
        return TAG_EQ[tag]
    except (KeyError, TypeError):
        pass
    if type(tag) is not int or tag <= 0:
        raise LocalProtocolError(f"invalid tag {tag!r}")
    return b"%d=" % tag


def tag_bytes(tag: int) -> bytes:
    return TAG_BYTES[tag] if 0 <= tag < _TAG_LIMIT else b"%d" % tag


def checksum(data: bytes | bytearray | memoryview) -> int:
    """FIX CheckSum: sum of all bytes modulo 256 (exact for any length).

    adler32's low half is 1 + the byte sum modulo 65521 (here started from 0, so just the
    sum); a chunk of at most 256 bytes sums to at most 65280, so per chunk it is exact.
    """
    n = len(data)
    if n <= 256:
        return _adler32(data, 0) & 0xFF
    if n <= 512:
        return ((_adler32(data[:256], 0) & 0xFFFF) + (_adler32(data[256:], 0) & 0xFFFF)) & 0xFF
    total = 0
    for i in range(0, n, 256):
        total += _adler32(data[i : i + 256], 0) & 0xFFFF
    return total & 0xFF


def to_bytes(value) -> bytes:
    """Convert a Python value to its FIX text form."""
    if type(value) is bytes:
        return value
    if isinstance(value, str):
        return value.encode()
    if value is True:
        return b"Y"
    if value is False:
        return b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, Decimal):
        return format(value, "f").encode()
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text:
            text = format(Decimal(text), "f")
        return text.encode()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return value.strftime("%Y%m%d-%H:%M:%S.").encode() + b"%03d" % (value.microsecond // 1000)
    if isinstance(value, _dt.date):
        return value.strftime("%Y%m%d").encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise LocalProtocolError(f"cannot encode {type(value).__name__} as a FIX value")


class Message:
    """An ordered list of FIX fields (tag, value) with fast lookups.

    A message has two interchangeable internal views, each built lazily from the other:
    ``tags``/``values`` (bare tag bytes and value bytes, made by the parser) and ``parts``
    (b"tag=value" pieces, made by `append` and used by the encoder). Header and trailer
    fields of a parsed message are part of the list; outbound messages normally carry
    only MsgType and body fields — the session writes the rest of the header.
    """

    __slots__ = ("_tags", "_values", "_tokens", "_parts", "_index", "raw", "_hdr")

    def __init__(self, msg_type: bytes | str | None = None, fields: Iterable[tuple[int, object]] | None = None):
        self._tags: list[bytes] | None = None
        self._values: list[bytes] | None = None
        self._tokens: list[bytes] | None = None
        self._index: dict[bytes, bytes] | None = None
        self.raw: bytes | None = None
        # False only while the message is known to be "35=<type>" + body fields: the
        # encoder's fast path relies on it (header fields, edits of 35 or no type set it)
        self._hdr = msg_type is None
        if msg_type is None:
            self._parts = []
        else:
            first = b"35=" + (msg_type if type(msg_type) is bytes else to_bytes(msg_type))
            if 1 in first:
                raise LocalProtocolError("MsgType contains SOH")
            self._parts = [first]
        if fields:
            if type(fields) is list:
                # extend()'s fast path inlined: body tags with bytes values, no SOH anywhere
                try:
                    new = [BODY_TAG_EQ[t] + v for t, v in fields]
                except (KeyError, TypeError):
                    pass
                else:
                    if 1 in b"".join(new):
                        raise LocalProtocolError("a field value contains SOH")
                    self._parts += new
                    return
            self.extend(fields)

    # -- construction -------------------------------------------------------------
    @classmethod
    def _parsed(cls, tags: list[bytes], values: list[bytes], raw: bytes | None) -> "Message":
        m = cls.__new__(cls)
        m._tags = tags
        m._values = values
        m._tokens = None
        m._parts = None
        m._index = None
        m.raw = raw
        m._hdr = True
        return m

    @classmethod
    def _from_tokens(cls, tags: list[bytes], tokens: list[bytes], raw: bytes | None) -> "Message":
        """Parser fast path: `tokens` interleaves tags and values (an odd-length list may end
        with one extra token, the b"" after the frame's last SOH); values are sliced lazily."""
        m = _new_object(cls)
        m._tags = tags
        m._values = None
        m._tokens = tokens
        m._parts = None
        m._index = None
        m.raw = raw
        m._hdr = True
        return m

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[bytes, bytes]]) -> "Message":
        tags: list[bytes] = []
        values: list[bytes] = []
        for t, v in pairs:
            tags.append(t)
            values.append(v)
        return cls._parsed(tags, values, None)

    def copy(self) -> "Message":
        self._ensure_split()
        return Message._parsed(list(self._tags), list(self._values), None)

    # -- views ---------------------------------------------------------------------
    def _ensure_split(self) -> None:
        if self._values is None and self._tokens is not None:
            self._values = self._tokens[1::2]
            return
        if self._tags is None:
            parts = self._parts
            joined = b"=".join(parts)
            if joined.count(b"=") == 2 * len(parts) - 1 if parts else True:
                tokens = joined.split(b"=") if parts else []
                self._tags = tokens[0::2]
                self._values = tokens[1::2]
            else:
                tags, values = [], []
                for p in parts:
                    t, _, v = p.partition(b"=")
                    tags.append(t)
                    values.append(v)
                self._tags, self._values = tags, values

    def _ensure_parts(self) -> list[bytes]:
        if self._parts is None:
            self._ensure_split()
            self._parts = list(map(b"=".join, zip(self._tags, self._values)))
        return self._parts

    def _dirty(self, keep: str) -> None:
        """Drop the views that an edit made stale."""
        self._index = None
        self.raw = None
        self._tokens = None
        if keep == "parts":
            self._tags = self._values = None
        else:
            self._parts = None

    @property
    def tags(self) -> list[bytes]:
        self._ensure_split()
        return self._tags  # type: ignore[return-value]

    @property
    def values(self) -> list[bytes]:
        self._ensure_split()
        return self._values  # type: ignore[return-value]

    @property
    def parts(self) -> list[bytes]:
        return self._ensure_parts()

    def _idx(self) -> dict[bytes, bytes]:
        index = self._index
        if index is None:
            tokens = self._tokens
            if tokens is not None:
                it = iter(tokens)
                index = dict(zip(it, it))
                n = len(tokens) >> 1
            else:
                self._ensure_split()
                index = dict(zip(self._tags, self._values))
                n = len(self._tags)
            if len(index) != n:
                # a tag repeats: the first occurrence wins
                self._ensure_split()
                index = dict(zip(reversed(self._tags), reversed(self._values)))
            self._index = index
        return index

    # -- reading ----------------------------------------------------------------------
    def get(self, tag: int, default=None):
        """The value (bytes) of the first occurrence of `tag`, or `default`."""
        index = self._index
        if index is None:
            index = self._idx()
        if 0 <= tag < 10000:  # _TAG_LIMIT
            return index.get(TAG_BYTES[tag], default)
        return index.get(b"%d" % tag, default)

    def get_raw(self, tag: bytes, default=None):
        return self._idx().get(tag, default)

    def __getitem__(self, tag: int) -> bytes:
        v = self.get(tag)
        if v is None:
            raise KeyError(tag)
        return v

    def __contains__(self, tag: int) -> bool:
        return tag_bytes(tag) in self._idx()

    def get_str(self, tag: int, default: str | None = None) -> str | None:
        v = self.get(tag)
        return default if v is None else v.decode(errors="surrogateescape")

    def get_int(self, tag: int, default: int | None = None) -> int | None:
        v = self.get(tag)
        return default if v is None else int(v)

    def get_decimal(self, tag: int, default: Decimal | None = None) -> Decimal | None:
        v = self.get(tag)
        return default if v is None else Decimal(v.decode())

    def get_all(self, tag: int) -> list[bytes]:
        t = tag_bytes(tag)
        self._ensure_split()
        return [v for tt, v in zip(self._tags, self._values) if tt == t]

    def count(self, tag: int) -> int:
        self._ensure_split()
        return self._tags.count(tag_bytes(tag))

    @property
    def msg_type(self) -> bytes | None:
        tokens = self._tokens
        if tokens is not None:  # a parsed frame: decode() checked that field 3 is 35
            return tokens[5]
        parts = self._parts
        if parts and parts[0][:3] == b"35=":
            return parts[0][3:]
        return self._idx().get(b"35")

    def fields(self) -> list[tuple[int, bytes]]:
        """All fields as (int tag, value bytes), in order. Non-numeric tags raise ValueError."""
        self._ensure_split()
        return [(int(t), v) for t, v in zip(self._tags, self._values)]

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        return iter(self.fields())

    def __len__(self) -> int:
        return len(self._tags) if self._tags is not None else len(self._parts)  # type: ignore[arg-type]

    def __eq__(self, other) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.parts == other.parts

    def __repr__(self) -> str:
        body = b"|".join(self.parts).decode(errors="replace")
        return f"Message({body})"

    # -- editing ------------------------------------------------------------------------
    def append(self, tag: int, value) -> "Message":
        """Append a field. `value` may be bytes, str, int, bool, Decimal, float or datetime."""
        v = value if type(value) is bytes else to_bytes(value)
        if 1 in v:
            raise LocalProtocolError(f"value of tag {tag} contains SOH")
        if tag in HEADER_TAGS:
            self._hdr = True
        if self._tags is None and self._index is None:  # outbound message being built
            self._parts.append(_tag_eq(tag) + v)
            return self
        parts = self._ensure_parts()
        parts.append(_tag_eq(tag) + v)
        self._dirty("parts")
        return self

    def extend(self, fields: Iterable[tuple[int, object]]) -> "Message":
        """Append many (tag, value) fields at once (the fast way to build a message)."""
        if self._tags is not None or self._index is not None:
            for tag, value in fields:
                self.append(tag, value)
            return self
        if not isinstance(fields, (list, tuple)):
            fields = list(fields)
        te = BODY_TAG_EQ
        try:
            new = [te[t] + v for t, v in fields]  # body tags with bytes values: the fast path
        except (KeyError, TypeError):
            new = [_tag_eq(t) + to_bytes(v) for t, v in fields]
            if not HEADER_TAGS.isdisjoint([t for t, _ in fields]):
                self._hdr = True
        if 1 in b"".join(new):  # an int needle is a plain memchr; a bytes one costs 10x more
            raise LocalProtocolError("a field value contains SOH")
        self._parts += new
        return self

    def append_data(self, length_tag: int, data_tag: int, data: bytes) -> "Message":
        """Append a length-prefixed data field pair (e.g. 95/96); data may contain SOH."""
        self.append(length_tag, len(data))
        parts = self._ensure_parts()
        parts.append(tag_bytes(data_tag) + b"=" + bytes(data))
        self._dirty("parts")
        return self

    def set(self, tag: int, value) -> "Message":
        """Replace the first occurrence of `tag` (or append it)."""
        v = to_bytes(value)
        if b"\x01" in v:
            raise LocalProtocolError(f"value of tag {tag} contains SOH")
        t = tag_bytes(tag)
        self._ensure_split()
        try:
            i = self._tags.index(t)
        except ValueError:
            self._tags.append(t)
            self._values.append(v)
        else:
            self._values[i] = v
        if tag in HEADER_TAGS:
            self._hdr = True
        self._dirty("split")
        return self

    def remove(self, tag: int) -> bool:
        """Remove every occurrence of `tag`; True if any was present."""
        t = tag_bytes(tag)
        self._ensure_split()
        if t not in self._tags:
            return False
        keep = [(tt, v) for tt, v in zip(self._tags, self._values) if tt != t]
        self._tags = [tt for tt, _ in keep]
        self._values = [v for _, v in keep]
        if tag in HEADER_TAGS:
            self._hdr = True
        self._dirty("split")
        return True

    # -- groups --------------------------------------------------------------------------
    def group(self, count_tag: int, group_def) -> list["Message"]:
        """Entries of the repeating group started by `count_tag` (lazy: parsed on demand).

        `group_def` is a `fix.dictionary.GroupDef` (delimiter + member tags). Each entry is
        returned as a `Message` holding that entry's fields (nested groups stay flat inside
        the entry and can be read with `entry.group(...)` again).
        """
        self._ensure_split()
        tags, values = self._tags, self._values
        t = tag_bytes(count_tag)
        try:
            start = tags.index(t)
        except ValueError:
            return []
        entries, _end = split_group(tags, values, start + 1, group_def)
        return [Message._parsed(et, ev, None) for et, ev in entries]


def split_group(tags: list[bytes], values: list[bytes], pos: int, group_def) -> tuple[list[tuple[list, list]], int]:
    """Collect group entries starting at `pos` (just after the NumInGroup field).

    A new entry starts at the delimiter or at a member tag already present in the
    current entry (QuickFIX's rule); the group ends at the first non-member tag.
    Nested groups are consumed into their parent entry. Returns (entries, next_pos).
    """
    members = group_def.member_set
    delim = group_def.delimiter
    nested = group_def.groups
    entries: list[tuple[list, list]] = []
    cur_t: list[bytes] | None = None
    cur_v: list[bytes] | None = None
    seen: set[bytes] = set()
    n = len(tags)
    while pos < n:
        t = tags[pos]
        if t not in members:
            break
        if t == delim or cur_t is None or t in seen:
            cur_t, cur_v = [], []
            entries.append((cur_t, cur_v))
            seen = set()
        cur_t.append(t)
        cur_v.append(values[pos])
        seen.add(t)
        pos += 1
        sub = nested.get(t)
        if sub is not None:
            sub_entries, npos = split_group(tags, values, pos, sub)
            for et, ev in sub_entries:
                cur_t.extend(et)
                cur_v.extend(ev)
            pos = npos
    return entries, pos


# ---------------------------------------------------------------------------------------
# decoding


def _split_exact(seg: bytes, data_tags: frozenset[bytes]) -> tuple[list[bytes], list[bytes]]:
    """Field-by-field split that honours length-prefixed data fields and '=' in values."""
    tags: list[bytes] = []
    values: list[bytes] = []
    pos = 0
    n = len(seg)
    last_tag = b""
    last_val = b""
    while pos < n:
        eq = seg.find(b"=", pos)
        if eq < 0:
            raise GarbledMessage("field without '='")
        tag = seg[pos:eq]
        if b"\x01" in tag:
            raise GarbledMessage("field without '='")
        if last_tag in data_tags and last_val.isdigit():
            # this field is the data field announced by the previous length field
            end = eq + 1 + int(last_val)
            if end > n or (end < n and seg[end] != 1):
                raise GarbledMessage("data field length mismatch")
        else:
            end = seg.find(b"\x01", eq + 1)
            if end < 0:
                end = n
        value = seg[eq + 1 : end]
        tags.append(tag)
        values.append(value)
        last_tag, last_val = tag, value
        pos = end + 1
    return tags, values


def _valid_tag(t: bytes) -> bool:
    return t.isdigit() or (t[:1] == b"-" and t[1:].isdigit())


_CS_FIELD = [b"10=%03d\x01" % i for i in range(256)]

# CheckSum text -> (value, byte sum of the whole field b"10=nnn<SOH>"): one dict lookup
# both validates the three digits and lets the frame be summed in one adler32 call
_CS_TEXT: dict[bytes, tuple[int, int]] = {b"%03d" % i: (i, sum(b"10=%03d\x01" % i)) for i in range(256)}

# canonical decimal text -> int for 0..9999 (BodyLength and tag numbers): a lookup is a
# third of the cost of isdigit() + int() and rejects signs, blanks and leading zeros
_NUMBERS: dict[bytes, int] = {TAG_BYTES[i]: i for i in range(_TAG_LIMIT)}


def _tag_set(data_tags: frozenset[bytes] | None) -> frozenset[bytes]:
    """Tags 1..9999 minus the data length tags: ``set.issuperset(tags)`` then checks in one
    C call that every tag is a canonical number and no data field needs the exact path."""
    return frozenset(TAG_BYTES[i] for i in range(1, _TAG_LIMIT) if data_tags is None or TAG_BYTES[i] not in data_tags)


_PLAIN_TAGS = _tag_set(DATA_LENGTH_TAGS)
_tag_sets: dict[frozenset[bytes] | None, frozenset[bytes]] = {DATA_LENGTH_TAGS: _PLAIN_TAGS}
# (data_tags, its plain tag set) last used: a session passes the same object every time, so
# an identity test skips hashing the frozenset (one tuple, replaced whole: thread-safe)
_last_tag_set: tuple[frozenset[bytes] | None, frozenset[bytes]] = (DATA_LENGTH_TAGS, _PLAIN_TAGS)


# id(data_tags) -> (data_tags, plain set): each session has its own (equal) frozenset, and
# comparing frozensets by value costs a tenth of a decode; holding the object in the entry
# keeps its id from being reused while the entry lives
_tag_sets_by_id: dict[int, tuple[frozenset[bytes] | None, frozenset[bytes]]] = {}


def _plain_tags(data_tags: frozenset[bytes] | None) -> frozenset[bytes]:
    global _last_tag_set
    entry = _tag_sets_by_id.get(id(data_tags))
    if entry is None or entry[0] is not data_tags:
        plain = _tag_sets.get(data_tags)
        if plain is None:
            if len(_tag_sets) >= 16:  # distinct data-tag sets are few (one per dictionary)
                _tag_sets.clear()
            plain = _tag_sets[data_tags] = _tag_set(data_tags)
        if len(_tag_sets_by_id) >= 256:
            _tag_sets_by_id.clear()
        entry = _tag_sets_by_id[id(data_tags)] = (data_tags, plain)
    _last_tag_set = entry
    return entry[1]


_new_object = object.__new__


def decode(frame: bytes, data_tags: frozenset[bytes] | None = DATA_LENGTH_TAGS) -> Message:
    """Parse one complete frame; raise `GarbledMessage` if framing, length or checksum is wrong.

    The returned message holds every field including 8, 9 and 10, in wire order.
    Length-prefixed data fields (`data_tags` names their length tags) are honoured;
    pass `data_tags=None` for flows known to carry none.

    Fast path (measured, see bench/codec.py): one ``replace`` + ``split`` turns the frame
    into alternating tag/value tokens; the checks then cost a handful of C calls: a dict
    lookup each for CheckSum text and BodyLength, one ``count`` showing there are as many
    '=' as fields, one ``adler32`` for the byte sum and one ``issuperset`` proving every
    tag is a number and none announces a data field. Anything else (a '=' inside a value,
    data fields, tags >= 10000, garbage) takes the exact field-by-field path. Known gap,
    kept from the first version: equal counts cannot tell a value holding an extra '='
    *and* a field holding none apart from a well-formed frame; when the fragment after
    the extra '=' is a number, such a malformed frame is read with shifted fields
    instead of being rejected (it stays within the sender's own message).
    """
    tokens = frame.replace(b"\x01", b"=").split(b"=")
    try:
        cs_value, cs_sum = _CS_TEXT[tokens[-2]]
        body_length = _NUMBERS[tokens[3]]
        third = tokens[4]
    except (KeyError, IndexError):
        return _decode_exact(frame, data_tags)
    n = len(frame)
    if (tokens[-1] or tokens[-3] != b"10" or tokens[0] != b"8" or tokens[2] != b"9" or third != b"35"
            or body_length != n - 13 - len(tokens[1]) - len(tokens[3])
            or len(tokens) != 2 * frame.count(1) + 1):
        # a '=' inside a value, a short frame, a non-canonical length or CheckSum, or garbage
        return _decode_exact(frame, data_tags)
    # adler32's low half is the byte sum modulo 65521: exact while the sum stays below it
    # (any 256 bytes, or 515 ASCII bytes); the CheckSum field's own bytes are taken back out
    if n <= 256 or (n <= 515 and frame.isascii()):
        total = (_adler32(frame, 0) & 0xFFFF) - cs_sum
    else:
        total = checksum(frame[: n - 7])
    if total & 0xFF != cs_value:
        raise GarbledMessage("CheckSum mismatch")
    tags = tokens[0:-1:2]
    last = _last_tag_set
    plain = last[1] if data_tags is last[0] else _plain_tags(data_tags)
    if not plain.issuperset(tags):
        # a tag >= 10000, a data field (exact path) or not a number (garbled; an empty tag
        # would vanish from the join, hence its own test)
        if ((data_tags is not None and not data_tags.isdisjoint(tags)) or b"" in tags
                or not b"".join(tags).isdigit()):
            return _decode_exact(frame, data_tags)
    m = _new_object(Message)  # Message._from_tokens, inlined (a call is ~5% of a decode)
    m._tags = tags
    m._values = None
    m._tokens = tokens
    m._parts = None
    m._index = None
    m.raw = frame
    m._hdr = True
    return m


def _decode_exact(frame: bytes, data_tags: frozenset[bytes] | None) -> Message:
    """The exact (slower) path: data fields, '=' inside values, or malformed input."""
    n = len(frame)
    i = frame.rfind(b"\x0110=", 0, n)
    if i < 0 or frame[n - 1] != 1:
        raise GarbledMessage("no CheckSum field")
    cs_text = frame[i + 4 : n - 1]
    tags, values = _split_exact(frame[:i], data_tags or frozenset())
    if len(tags) < 3 or tags[0] != b"8" or tags[1] != b"9" or tags[2] != b"35":
        raise GarbledMessage("first three fields must be 8, 9, 35")
    blen = values[1]
    if not blen.isdigit() or int(blen) != i + 1 - len(values[0]) - len(blen) - 6:
        raise GarbledMessage("BodyLength mismatch")
    if not cs_text.isdigit() or len(cs_text) > 3 or int(cs_text) != checksum(memoryview(frame)[: i + 1]):
        raise GarbledMessage("CheckSum mismatch")
    for t in tags:
        if not _valid_tag(t):
            raise GarbledMessage("tag is not a number")
    tags.append(b"10")
    values.append(cs_text)
    return Message._parsed(tags, values, frame)


class FrameReader:
    """Cut a byte stream into FIX frames with a bounded buffer (sans-IO).

    `feed(data)` then call `next_frame()` until it returns None. Frames are returned
    as found on the wire; `decode()` decides whether they are valid. Bytes that cannot
    start a frame are skipped; `discarded` counts frames cut off for exceeding
    `max_message_size`.

    The buffer is an immutable bytes object plus a read offset: when reads deliver whole
    messages (the common case) feeding costs no copy and a frame is one slice. The reader
    remembers the last frame's b"8=<BeginString><SOH>9=": one connection speaks one
    version, so finding BodyLength is then a single comparison.
    """

    __slots__ = ("_buf", "_pos", "max_message_size", "discarded", "_prefix", "_prefix_len")

    def __init__(self, max_message_size: int = 1 << 20):
        self._buf = b""
        self._pos = 0
        self.max_message_size = max_message_size
        self.discarded = 0
        self._prefix = b"\x00"  # matches no frame until the first one is seen
        self._prefix_len = 1

    def feed(self, data: bytes) -> None:
        pos = self._pos
        if pos >= len(self._buf):
            self._buf = data if type(data) is bytes else bytes(data)
        else:
            self._buf = self._buf[pos:] + data
        self._pos = 0

    @property
    def buffered(self) -> int:
        return len(self._buf) - self._pos

    def take_remaining(self) -> bytes:
        """Remove and return the unparsed bytes (e.g. to hand them to a session)."""
        rest = self._buf[self._pos :]
        self._buf, self._pos = b"", 0
        return rest

    def next_frame(self) -> bytes | None:
        buf, pos = self._buf, self._pos
        # fast path: a well-formed frame starts right here and its CheckSum is where
        # BodyLength says it is
        k = pos + self._prefix_len
        if buf[pos:k] == self._prefix:  # the BeginString seen last time
            j = buf.find(1, k, k + 9)
        elif buf[pos : pos + 5] == b"8=FIX":
            k = buf.find(b"\x019=", pos + 5, pos + 40) + 3
            if k < 3:
                return self._next_frame_slow()
            j = buf.find(1, k, k + 9)
            if j > 0:
                self._prefix = buf[pos:k]
                self._prefix_len = k - pos
        else:
            return self._next_frame_slow()
        body_length = _NUMBERS.get(buf[k:j]) if j > 0 else None
        if body_length is not None:
            end = j + 8 + body_length
            if buf[end - 8 : end] in _SOH_CS_FIELDS and end - pos <= self.max_message_size:
                self._pos = end
                # the common case, one read holding exactly one message: no copy
                return buf if pos == 0 and end == len(buf) else buf[pos:end]
        return self._next_frame_slow()

    def _next_frame_slow(self) -> bytes | None:
        """QuickFIX's rule: after the declared body, the frame ends at the first SOH 10=."""
        limit = self.max_message_size
        while True:
            buf, pos = self._buf, self._pos
            start = buf.find(b"8=FIX", pos)
            if start < 0:
                keep = max(pos, len(buf) - 4)
                self._buf, self._pos = buf[keep:], 0
                return None
            if start > 0:
                buf = buf[start:]
                self._buf, self._pos = buf, 0
            elif pos:
                buf = buf[pos:]
                self._buf, self._pos = buf, 0
            n = len(buf)
            soh = buf.find(b"\x01", 0, 64)
            if soh < 0:
                if n >= 64:
                    self._pos = 1
                    continue
                return None
            if n < soh + 3:
                return None
            if buf[soh + 1 : soh + 3] != b"9=":
                self._pos = 1  # no BodyLength: not a frame start
                continue
            end9 = buf.find(b"\x01", soh + 3, soh + 3 + 12)
            if end9 < 0:
                if n >= soh + 3 + 12:
                    self._pos = 1
                    continue
                return None
            length_text = buf[soh + 3 : end9]
            if not length_text.isdigit():
                self._pos = 1
                continue
            body_end = end9 + 1 + int(length_text)
            if body_end > limit:
                self.discarded += 1
                self._pos = 1
                continue
            if n < body_end:
                return None
            cs = buf.find(b"\x0110=", body_end - 1)
            if cs < 0 or cs > limit:
                if n > limit:
                    self.discarded += 1
                    self._pos = 1
                    continue
                return None
            term = buf.find(b"\x01", cs + 4, cs + 4 + 8)
            if term < 0:
                if n >= cs + 4 + 8:
                    self._pos = 1
                    continue
                return None
            self._pos = term + 1
            return buf[: term + 1]


# ---------------------------------------------------------------------------------------
# encoding


def encode_fields(pairs: Iterable[tuple[int, object]]) -> bytes:
    """Encode a complete message from (tag, value) pairs, computing 9 and 10.

    The pairs must start with 8 and 35 (9 and 10 are ignored if present). A convenience
    for tools and tests; sessions use `Encoder`.
    """
    begin = None
    fields: list[bytes] = []
    for tag, value in pairs:
        if tag in (9, 10):
            continue
        if tag == 8:
            begin = to_bytes(value)
            continue
        fields.append(_tag_eq(tag) + to_bytes(value))
    if begin is None:
        raise LocalProtocolError("BeginString (8) missing")
    body = b"\x01".join(fields) + b"\x01"
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    msg = head + body
    return msg + b"10=%03d\x01" % checksum(msg)


def finish(begin_prefix: bytes, body: bytes) -> bytes:
    """Prefix BodyLength and append CheckSum. `begin_prefix` is b"8=FIX.4.4\\x019="."""
    head = b"%s%d\x01" % (begin_prefix, len(body))
    total = _adler32(head, 0) & 0xFFFF
    total += (_adler32(body, 0) & 0xFFFF) if len(body) <= 256 else checksum(body)
    return b"".join((head, body, _CS_FIELD[total & 0xFF]))


_SESSION_OWNED = frozenset({b"8", b"9", b"34", b"35", b"49", b"52", b"56", b"10", b"43", b"122"})


def _time_window(t: float, scale: int) -> tuple[float, float]:
    """The interval [lo, hi) of floats x with int(x * scale) == int(t * scale).

    x * scale (rounded) and int() are both monotonic, so the set is an interval; its ends
    are found exactly by stepping one ulp from the decimal guesses. Comparing a clock
    reading against it costs two float compares instead of a multiply and an int().
    """
    unit = int(t * scale)
    lo = unit / scale
    while int(lo * scale) >= unit:
        lo = math.nextafter(lo, -math.inf)
    while int(lo * scale) < unit:
        lo = math.nextafter(lo, math.inf)
    hi = (unit + 1) / scale
    while int(hi * scale) > unit:
        hi = math.nextafter(hi, -math.inf)
    while int(hi * scale) <= unit:
        hi = math.nextafter(hi, math.inf)
    return lo, hi


class Encoder:
    """Pre-encoded session header (8, 49, 56) for one session; encodes outbound messages.

    Header order follows QuickFIX: 8, 9, 35, then the other header fields by tag number
    (34, 43, 49, 50, 52, 56, 57, 97, 115, 122, 128, ...), then the body, then 10.

    The fast path (a message built as type + body fields, no extra header) is one
    ``join`` for the body, one ``adler32`` for the CheckSum and one ``join`` for the frame;
    what does not change between messages is encoded once: "8=...<SOH>9=" + length per
    body length, and "49=...<SOH>52=<time><SOH>56=..." per millisecond of SendingTime.
    """

    def __init__(self, begin_string: str, sender_comp_id: str, target_comp_id: str, header_tags: frozenset[bytes], timestamp_precision: int = 3):
        self.begin_string = begin_string
        self.sender = sender_comp_id.encode()
        self.target = target_comp_id.encode()
        self.prefix = b"8=" + begin_string.encode() + b"\x019="
        self.header_tags = header_tags
        self.precision = timestamp_precision
        self._mid = b"\x0149=" + self.sender + b"\x0152="
        self._tail = b"\x0156=" + self.target + b"\x01"
        self._heads: dict[int, tuple[bytes, int]] = {}  # body length -> (b"8=..|9=n|", its byte sum + 1)
        # b"<SOH>49=S<SOH>52=<time><SOH>56=T" for SendingTimes in [_t_lo, _t_hi)
        self._stamp = b""
        self._t_lo = self._t_hi = 0.0
        self._time_scale = {0: 1, 3: 1000}.get(timestamp_precision)  # None: format every time

    def _set_time(self, now: float) -> bytes:
        stamp = self._mid + format_utc(now, self.precision) + self._tail[:-1]
        if self._time_scale is not None:
            self._t_lo, self._t_hi = _time_window(now, self._time_scale)
            self._stamp = stamp
        return stamp

    def encode(self, msg: Message, seq: int, now: float, extra_header: list[tuple[int, bytes]] | None = None) -> bytes:
        """Encode `msg` with MsgSeqNum `seq` and SendingTime `now`.

        Any header fields the message carries are kept and sorted into the header, except
        the ones the session owns (8, 9, 34, 35, 49, 52, 56, 10) and PossDupFlag (43) /
        OrigSendingTime (122), which only `extra_header` can set (resends and gap fills).
        """
        parts = msg._parts
        if parts is None:
            parts = msg._ensure_parts()
        if msg._hdr or extra_header is not None:
            return self._encode_header_fields(msg, parts, seq, now, extra_header)
        # fast path: msg is "35=<type>" + body fields (Message keeps _hdr False only then);
        # the header goes in as the first part, so the body is a single join
        stamp = self._stamp if self._t_lo <= now < self._t_hi else self._set_time(now)
        first = parts[0]
        parts[0] = b"%b\x0134=%d%b" % (first, seq, stamp)
        try:
            body = b"\x01".join(parts)
        finally:
            parts[0] = first
        n = len(body) + 1  # the SOH that ends the body is part of the CheckSum field below
        head = self._heads.get(n)
        if head is None:
            hb = b"%s%d\x01" % (self.prefix, n)
            head = (hb, (_adler32(hb, 0) & 0xFFFF) + 1)
            if len(self._heads) < 4096:
                self._heads[n] = head
        # adler32's low half is the exact byte sum for up to 256 bytes (515 if ASCII)
        total = head[1] + ((_adler32(body, 0) & 0xFFFF) if n <= 257 or (n <= 516 and body.isascii()) else checksum(body))
        return b"".join((head[0], body, _SOH_CS_FIELD[total & 0xFF]))

    def _encode_header_fields(self, msg: Message, parts: list[bytes], seq: int, now: float,
                              extra_header: list[tuple[int, bytes]] | None) -> bytes:
        """The careful path: header fields carried by the message or given as extra_header."""
        if not parts or parts[0][:3] != b"35=":
            raise LocalProtocolError("message has no MsgType (35) as its first field")
        first = parts[0]
        sending_time = format_utc(now, self.precision)
        htags = self.header_tags
        body_parts = parts[1:]
        header: list[tuple[int, bytes]] = [(34, b"%d" % seq), (49, self.sender), (52, sending_time), (56, self.target)]
        body_list: list[bytes] = []
        for p in body_parts:
            t, _, v = p.partition(b"=")
            if t in htags:
                # the session owns these; PossDupFlag/OrigSendingTime only come via extra_header
                if t in _SESSION_OWNED:
                    continue
                header.append((int(t), v))
            else:
                body_list.append(p)
        if extra_header:
            header.extend(extra_header)
        header.sort(key=lambda tv: tv[0])
        out = [first]
        out.extend(b"%d=%s" % (t, v) for t, v in header)
        out.extend(body_list)
        return finish(self.prefix, b"\x01".join(out) + b"\x01")


_SOH_CS_FIELD = [b"\x0110=%03d\x01" % i for i in range(256)]
_SOH_CS_FIELDS = frozenset(_SOH_CS_FIELD)  # a frame's last 8 bytes, when they are a CheckSum

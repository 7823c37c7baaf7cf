"""Data-dictionary validation of inbound messages, with QuickFIX's check order.

The order matters because the first failure decides the session-level Reject the
counterparty sees (the acceptance suite pins it down):

1. structure: header fields must precede body fields, the trailer comes last  -> 373=14
2. MsgType known to the dictionary                                            -> 373=11
3. required tags: header, trailer, body, then inside each group entry          -> 373=1
4. every field, header then trailer then body, each section in tag-number order
   (so repeated tags are adjacent), then the group entries:
   repeated -> 13, empty -> 4, bad format -> 6, value not in enum -> 5,
   tag unknown to the dictionary -> 0, tag not in this message -> 2,
   NumInGroup different from the entries found -> 16.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec import Message
from .dictionary import FLOAT_TYPES, INT_TYPES, MULTI_TYPES, DataDictionary, GroupDef
from .errors import ValidationError
from .timestamps import is_utc_date, is_utc_time_only, parse_utc


def _is_int(v: bytes) -> bool:
    return v.isdigit() or (v[:1] == b"-" and v[1:].isdigit())


def _is_float(v: bytes) -> bool:
    # QuickFIX's rule: optional '-', digits, optional '.' and digits, at least one digit, nothing else
    if v[:1] == b"-":
        v = v[1:]
    head, dot, tail = v.partition(b".")
    if not head and not tail:
        return False
    return (not head or head.isdigit()) and (not tail or tail.isdigit())


def check_format(ftype: str, v: bytes) -> bool:
    """True if `v` is a valid text of FIX type `ftype` (types without a syntax always pass)."""
    if ftype in INT_TYPES:
        return _is_int(v)
    if ftype in FLOAT_TYPES:
        return _is_float(v)
    if ftype == "CHAR":
        return len(v) == 1
    if ftype == "BOOLEAN":
        return v == b"Y" or v == b"N"
    if ftype == "UTCTIMESTAMP":
        return parse_utc(v) is not None
    if ftype == "UTCTIMEONLY":
        return is_utc_time_only(v)
    if ftype in ("UTCDATE", "UTCDATEONLY"):
        return is_utc_date(v)
    return True


@dataclass(slots=True)
class GroupInstance:
    """One occurrence of a repeating group: its NumInGroup field and the entries found."""

    count_tag: bytes
    count_value: bytes
    definition: GroupDef
    entries: list["Section"]


@dataclass(slots=True)
class Section:
    """Top-level fields of a header, body, trailer or group entry, plus its groups."""

    fields: list[tuple[bytes, bytes]] = field(default_factory=list)
    groups: list[GroupInstance] = field(default_factory=list)


@dataclass(slots=True)
class Layout:
    header: Section
    body: Section
    trailer: Section
    out_of_order: bytes | None = None


def _parse_group(tags: list[bytes], values: list[bytes], pos: int, gdef: GroupDef) -> tuple[list[Section], int]:
    members = gdef.member_set
    delim = gdef.delimiter
    entries: list[Section] = []
    cur: Section | None = None
    seen: set[bytes] = set()
    n = len(tags)
    while pos < n:
        t = tags[pos]
        if t not in members:
            break
        if t == delim or cur is None or t in seen:
            cur = Section()
            entries.append(cur)
            seen = set()
        v = values[pos]
        cur.fields.append((t, v))
        seen.add(t)
        pos += 1
        sub = gdef.groups.get(t)
        if sub is not None:
            sub_entries, pos = _parse_group(tags, values, pos, sub)
            cur.groups.append(GroupInstance(t, v, sub, sub_entries))
    return entries, pos


def layout(msg: Message, dd: DataDictionary) -> Layout:
    """Split a parsed message into header / body / trailer sections with groups resolved."""
    tags, values = msg.tags, msg.values
    htags, ttags = dd.header_tags, dd.trailer_tags
    md = dd.messages.get(values[2]) if len(values) > 2 else None
    body_groups = md.groups if md is not None else {}
    hdr_groups = dd.header.groups
    header, body, trailer = Section(), Section(), Section()
    state = 0  # 0 header, 1 body, 2 trailer
    bad: bytes | None = None
    i, n = 0, len(tags)
    while i < n:
        t, v = tags[i], values[i]
        i += 1
        if t in htags:
            if state and bad is None:
                bad = t
            header.fields.append((t, v))
            g = hdr_groups.get(t)
            if g is not None:
                entries, i = _parse_group(tags, values, i, g)
                header.groups.append(GroupInstance(t, v, g, entries))
        elif t in ttags:
            state = 2
            trailer.fields.append((t, v))
        else:
            if state == 2 and bad is None:
                bad = t
            state = 1
            body.fields.append((t, v))
            g = body_groups.get(t)
            if g is not None:
                entries, i = _parse_group(tags, values, i, g)
                body.groups.append(GroupInstance(t, v, g, entries))
    return Layout(header, body, trailer, bad)


def _check_required(section: Section, required: tuple[bytes, ...]) -> None:
    if required:
        present = {t for t, _ in section.fields}
        for t in required:
            if t not in present:
                raise ValidationError(1, int(t), t)
    for g in section.groups:
        for entry in g.entries:
            _check_required(entry, g.definition.required)


def _tag_key(tv: tuple[bytes, bytes]) -> int:
    return int(tv[0])


def _iterate(section: Section, dd: DataDictionary, allowed: frozenset[bytes] | None) -> None:
    fields = dd.fields
    counts = {g.count_tag: len(g.entries) for g in section.groups} if section.groups else None
    last = None
    for t, v in sorted(section.fields, key=_tag_key):
        if t == last:
            raise ValidationError(13, int(t), t)
        last = t
        if not v:
            raise ValidationError(4, int(t), t)
        fd = fields.get(t)
        if fd is None:
            raise ValidationError(0, int(t), t)
        if not check_format(fd.type, v):
            raise ValidationError(6, int(t), t)
        if fd.values is not None:
            if fd.type in MULTI_TYPES:
                if not all(x in fd.values for x in v.split(b" ")):
                    raise ValidationError(5, int(t), t)
            elif v not in fd.values:
                raise ValidationError(5, int(t), t)
        if allowed is not None and t not in allowed:
            raise ValidationError(2, int(t), t)
        if counts is not None and t in counts and int(v) != counts[t]:
            raise ValidationError(16, int(t), t)
    for g in section.groups:
        for entry in g.entries:
            _iterate(entry, dd, g.definition.member_set)


def validate(msg: Message, dd: DataDictionary) -> Layout:
    """Validate `msg` against `dd`; raise `ValidationError` (reason 373, tag 371) on the first problem."""
    lay = layout(msg, dd)
    if lay.out_of_order is not None:
        t = lay.out_of_order
        raise ValidationError(14, int(t), t)
    md = dd.messages.get(msg.values[2])
    if md is None:
        raise ValidationError(11)
    _check_required(lay.header, dd.header.required)
    _check_required(lay.trailer, dd.trailer.required)
    _check_required(lay.body, md.required)
    _iterate(lay.header, dd, None)
    _iterate(lay.trailer, dd, None)
    _iterate(lay.body, dd, md.fields)
    return lay


def body_units(lay: Layout) -> list[tuple[int, list[tuple[bytes, bytes]]]]:
    """Body fields grouped into sortable units: a plain field, or a NumInGroup field with
    all its entries. Used to re-emit a message body in tag order (as QuickFIX does)."""
    group_fields: dict[bytes, list[tuple[bytes, bytes]]] = {}
    for g in lay.body.groups:
        group_fields[g.count_tag] = _flatten_entries(g)
    units: list[tuple[int, list[tuple[bytes, bytes]]]] = []
    for t, v in lay.body.fields:
        unit = [(t, v)]
        if t in group_fields:
            unit.extend(group_fields.pop(t))
        units.append((int(t), unit))
    units.sort(key=lambda u: u[0])
    return units


def _flatten_entries(g: GroupInstance) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    for entry in g.entries:
        nested = {ng.count_tag: _flatten_entries(ng) for ng in entry.groups}
        for t, v in entry.fields:
            out.append((t, v))
            if t in nested:
                out.extend(nested.pop(t))
    return out

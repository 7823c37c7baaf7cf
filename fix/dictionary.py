"""FIX data dictionaries: fields, enums, messages, required tags, repeating groups.

The dictionaries ship as compact JSON under config/fix/ (converted from QuickFIX's XML
by `fix.tools.convert_dictionary`); they are located relative to the installed package,
never in ../shared. Components are flattened at load time, so a message definition is
a flat set of top-level tags plus nested `GroupDef`s — what validation and lazy group
parsing need. Tags are kept as bytes (b"55") to match the parser's field list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import fix as _fix_pkg

from .errors import ConfigError

DICTIONARY_DIR = Path(_fix_pkg.__file__).resolve().parent.parent / "config" / "fix"

# BeginString -> dictionary file name
DICTIONARY_FILES: dict[str, str] = {
    "FIX.4.2": "FIX42.json",
    "FIX.4.4": "FIX44.json",
    "FIXT.1.1": "FIXT11.json",
}

INT_TYPES = frozenset({"INT", "LENGTH", "SEQNUM", "NUMINGROUP", "DAYOFMONTH", "TAGNUM"})
FLOAT_TYPES = frozenset({"FLOAT", "PRICE", "QTY", "AMT", "PRICEOFFSET", "PERCENTAGE"})
MULTI_TYPES = frozenset({"MULTIPLEVALUESTRING", "MULTIPLESTRINGVALUE", "MULTIPLECHARVALUE"})


@dataclass(slots=True)
class FieldDef:
    tag: int
    name: str
    type: str
    values: frozenset[bytes] | None = None
    descriptions: dict[str, str] | None = None

    @property
    def multi(self) -> bool:
        return self.type in MULTI_TYPES


@dataclass(slots=True)
class GroupDef:
    """A repeating group: its NumInGroup tag, delimiter (first member) and members."""

    count_tag: bytes
    delimiter: bytes
    members: tuple[bytes, ...]
    member_set: frozenset[bytes]
    required: tuple[bytes, ...]
    groups: dict[bytes, "GroupDef"] = field(default_factory=dict)


@dataclass(slots=True)
class MessageDef:
    msg_type: bytes
    name: str
    category: str  # "admin" | "app"
    fields: frozenset[bytes]  # top-level tags (group count tags included, group members not)
    required: tuple[bytes, ...]  # sorted by tag number
    groups: dict[bytes, GroupDef]
    order: tuple[bytes, ...] = ()  # top-level tags in dictionary order

    @property
    def is_admin(self) -> bool:
        return self.category == "admin"


def _sort_key(t: bytes) -> int:
    return int(t)


class DataDictionary:
    """One FIX version's dictionary (see module docstring)."""

    def __init__(self, doc: dict, source: str = "<memory>"):
        self.source = source
        self.begin_string: str = doc["begin_string"]
        self.kind: str = doc.get("type", "FIX")
        self.version = (doc.get("major", 0), doc.get("minor", 0), doc.get("servicepack", 0))
        self.fields: dict[bytes, FieldDef] = {}
        self.tag_by_name: dict[str, int] = {}
        for tag_text, entry in doc["fields"].items():
            tag = int(tag_text)
            values = entry[2] if len(entry) > 2 else None
            fd = FieldDef(tag, entry[0], entry[1],
                          frozenset(v.encode() for v in values) if values else None,
                          dict(values) if values else None)
            self.fields[tag_text.encode()] = fd
            self.tag_by_name[entry[0]] = tag
        self._components: dict[str, list] = doc.get("components", {})
        self.header = self._build_def(b"_header_", "Header", "admin", doc.get("header", []))
        self.trailer = self._build_def(b"_trailer_", "Trailer", "admin", doc.get("trailer", []))
        self.messages: dict[bytes, MessageDef] = {}
        for mt, (name, cat, members) in doc.get("messages", {}).items():
            self.messages[mt.encode()] = self._build_def(mt.encode(), name, cat, members)
        self._add_logon_credentials()
        self.header_tags: frozenset[bytes] = self.header.fields | self._group_members(self.header.groups)
        self.trailer_tags: frozenset[bytes] = self.trailer.fields
        self.data_tags: frozenset[bytes] = frozenset(t for t, f in self.fields.items() if f.type == "DATA")
        # length tag -> data tag (data tag = length + 1, Signature 89 uses 93)
        self.data_length_tags: frozenset[bytes] = frozenset(
            (b"93" if t == b"89" else b"%d" % (int(t) - 1)) for t in self.data_tags)

    # -- building ---------------------------------------------------------------------
    def _flatten(self, members: list, required: bool, depth: int = 0) -> list[tuple[int, bool, list | None]]:
        """Expand component references into (tag, required, group members or None)."""
        if depth > 32:
            raise ConfigError(f"{self.source}: component nesting too deep")
        out: list[tuple[int, bool, list | None]] = []
        for m in members:
            ref, req = m[0], bool(m[1])
            if isinstance(ref, str):
                comp = self._components.get(ref)
                if comp is None:
                    raise ConfigError(f"{self.source}: unknown component {ref}")
                out.extend(self._flatten(comp, required and req, depth + 1))
            else:
                out.append((ref, required and req, m[2] if len(m) > 2 else None))
        return out

    def _build_group(self, count_tag: int, members: list, depth: int) -> GroupDef:
        flat = self._flatten(members, True, depth + 1)
        tags = tuple(b"%d" % t for t, _, _ in flat)
        groups = {b"%d" % t: self._build_group(t, g, depth + 1) for t, _, g in flat if g is not None}
        req = tuple(sorted((b"%d" % t for t, r, _ in flat if r), key=_sort_key))
        return GroupDef(b"%d" % count_tag, tags[0] if tags else b"", tags, frozenset(tags), req, groups)

    def _build_def(self, mt: bytes, name: str, cat: str, members: list) -> MessageDef:
        flat = self._flatten(members, True)
        order = tuple(b"%d" % t for t, _, _ in flat)
        groups = {b"%d" % t: self._build_group(t, g, 0) for t, _, g in flat if g is not None}
        req = tuple(sorted((b"%d" % t for t, r, _ in flat if r), key=_sort_key))
        return MessageDef(mt, name, cat, frozenset(order), req, groups, order)

    def _add_logon_credentials(self) -> None:
        """FIX 4.2 has no Username (553) / Password (554); sessions configured with
        credentials send them in the Logon anyway (as QuickFIX deployments do by editing
        their dictionary), so they are added to older dictionaries' Logon as optional."""
        logon = self.messages.get(b"A")
        if logon is None:
            return
        added = []
        for tag, name in ((553, "Username"), (554, "Password")):
            key = b"%d" % tag
            if key not in self.fields:
                self.fields[key] = FieldDef(tag, name, "STRING")
                self.tag_by_name[name] = tag
            if key not in logon.fields:
                added.append(key)
        if added:
            logon.fields = logon.fields | frozenset(added)
            logon.order = logon.order + tuple(added)

    @staticmethod
    def _group_members(groups: dict[bytes, GroupDef]) -> frozenset[bytes]:
        out: set[bytes] = set()
        for g in groups.values():
            out |= g.member_set
            out |= DataDictionary._group_members(g.groups)
        return frozenset(out)

    # -- queries --------------------------------------------------------------------------
    def field(self, tag: int | bytes) -> FieldDef | None:
        return self.fields.get(tag if isinstance(tag, bytes) else b"%d" % tag)

    def tag(self, name: str) -> int:
        return self.tag_by_name[name]

    def message(self, msg_type: bytes | str) -> MessageDef | None:
        return self.messages.get(msg_type if isinstance(msg_type, bytes) else msg_type.encode())

    def group(self, msg_type: bytes | str, count_tag: int) -> GroupDef | None:
        """The group definition for `count_tag` in `msg_type` (searching nested groups too)."""
        md = self.message(msg_type)
        key = b"%d" % count_tag
        for defs in ((md.groups if md else {}), self.header.groups):
            found = _find_group(defs, key)
            if found is not None:
                return found
        return None

    def is_admin(self, msg_type: bytes) -> bool:
        md = self.messages.get(msg_type)
        return md.is_admin if md is not None else msg_type in ADMIN_MSG_TYPES

    def __repr__(self) -> str:
        return f"DataDictionary({self.begin_string}, {len(self.fields)} fields, {len(self.messages)} messages)"


ADMIN_MSG_TYPES = frozenset({b"0", b"1", b"2", b"3", b"4", b"5", b"A"})


def _find_group(groups: dict[bytes, GroupDef], key: bytes) -> GroupDef | None:
    if key in groups:
        return groups[key]
    for g in groups.values():
        found = _find_group(g.groups, key)
        if found is not None:
            return found
    return None


def load_path(path: Path) -> DataDictionary:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load FIX dictionary {path}: {exc}") from exc
    return DataDictionary(doc, str(path))


@lru_cache(maxsize=None)
def load(begin_string: str) -> DataDictionary:
    """The shipped dictionary for a BeginString ("FIX.4.2", "FIX.4.4"), cached."""
    name = DICTIONARY_FILES.get(begin_string)
    if name is None:
        raise ConfigError(f"no FIX dictionary for {begin_string!r}; have {sorted(DICTIONARY_FILES)}")
    return load_path(DICTIONARY_DIR / name)

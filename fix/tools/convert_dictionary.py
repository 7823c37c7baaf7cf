"""Convert a QuickFIX-style XML data dictionary into fixvenue's compact JSON format.

Why: the product must not read ../shared at run time, and parsing XML at every start
is slow and needs more code in the hot import path. The JSON keeps the dictionary's
structure (components stay named, groups stay nested) so FIXT 1.1 / FIX 5.0 SP2 —
which lean on deep component nesting — convert with the same code; `fix.dictionary`
flattens components when it loads.

Output format (version 1)::

    {"format": 1, "type": "FIX", "major": 4, "minor": 4, "servicepack": 0,
     "begin_string": "FIX.4.4",
     "fields":   {"<tag>": ["Name", "TYPE"] | ["Name", "TYPE", {"enum": "description", ...}]},
     "header":   [member, ...],
     "trailer":  [member, ...],
     "messages": {"<MsgType>": ["Name", "admin"|"app", [member, ...]]},
     "components": {"Name": [member, ...]}}

    member := [tag, required]                 a field (required is 0/1)
            | [tag, required, [member, ...]]  a repeating group; tag is its NumInGroup field,
                                              the first member is the delimiter
            | ["ComponentName", required]     a component reference

Run (from the repository root)::

    python -m fix.tools.convert_dictionary ../shared/fix-spec/FIX42.xml ../shared/fix-spec/FIX44.xml

which writes config/fix/FIX42.json and config/fix/FIX44.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent.parent.parent / "config" / "fix"


def _members(node: ET.Element, tag_of: dict[str, int]) -> list:
    out: list = []
    for child in node:
        req = 1 if child.get("required", "N").upper() == "Y" else 0
        name = child.get("name")
        if child.tag == "field":
            out.append([tag_of[name], req])
        elif child.tag == "group":
            out.append([tag_of[name], req, _members(child, tag_of)])
        elif child.tag == "component":
            out.append([name, req])
        else:  # pragma: no cover - unknown element in a vendor dictionary
            raise ValueError(f"unexpected element <{child.tag}> in {node.tag} {node.get('name')}")
    return out


def convert(xml_path: Path) -> dict:
    root = ET.parse(xml_path).getroot()
    kind = root.get("type", "FIX")
    major, minor = int(root.get("major")), int(root.get("minor"))
    sp = int(root.get("servicepack", "0") or 0)
    begin = f"{kind}.{major}.{minor}" if kind == "FIXT" or (major, minor) < (5, 0) else "FIXT.1.1"
    fields: dict[str, list] = {}
    tag_of: dict[str, int] = {}
    for f in root.find("fields"):
        tag = int(f.get("number"))
        tag_of[f.get("name")] = tag
        entry: list = [f.get("name"), f.get("type")]
        values = {v.get("enum"): v.get("description", "") for v in f.findall("value")}
        if values:
            entry.append(values)
        fields[str(tag)] = entry
    doc: dict = {
        "format": 1,
        "source": xml_path.name,
        "type": kind,
        "major": major,
        "minor": minor,
        "servicepack": sp,
        "begin_string": begin,
        "fields": fields,
        "header": _members(root.find("header"), tag_of) if root.find("header") is not None else [],
        "trailer": _members(root.find("trailer"), tag_of) if root.find("trailer") is not None else [],
        "messages": {},
        "components": {},
    }
    for m in root.find("messages") if root.find("messages") is not None else []:
        doc["messages"][m.get("msgtype")] = [m.get("name"), m.get("msgcat", "app"), _members(m, tag_of)]
    comps = root.find("components")
    if comps is not None:
        for c in comps:
            doc["components"][c.get("name")] = _members(c, tag_of)
    return doc


def output_name(xml_path: Path) -> str:
    return xml_path.stem + ".json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m fix.tools.convert_dictionary", description=__doc__.split("\n")[0])
    p.add_argument("xml", nargs="+", type=Path, help="QuickFIX XML dictionaries (FIX42.xml, FIX44.xml, ...)")
    p.add_argument("--out", type=Path, default=OUT_DIR, help=f"output directory (default {OUT_DIR})")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.xml:
        doc = convert(path)
        target = args.out / output_name(path)
        target.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n")
        print(f"{path} -> {target} ({len(doc['fields'])} fields, {len(doc['messages'])} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where the acceptance definitions live and how the suites select and group them.

Shared by ``test_fix_acceptance.py`` (our engine) and ``test_fix_runner_selfcheck.py``
(QuickFIX).  The definitions are reference material outside the repo, at
``<repo>/../shared``; when that folder is missing the tests that need it skip and
name the path they looked for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import fix_acceptance_runner as runner

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = (REPO / ".." / "shared").resolve()
ACCEPTANCE_DIR = SHARED / "fix-acceptance"
SPEC_DIR = SHARED / "fix-spec"
FIELDS_FMT = ACCEPTANCE_DIR / "fields.fmt"
VERSIONS = ("fix42", "fix44")



def missing_shared_reason() -> str | None:
    """Why the acceptance definitions cannot be used, or None when they can."""
    for needed in (ACCEPTANCE_DIR / "fix42", ACCEPTANCE_DIR / "fix44", FIELDS_FMT):
        if not needed.exists():
            return f"acceptance definitions not found: {needed} (expected at <repo>/../shared)"
    return None


def definition_params() -> list:
    """One pytest param per .def (id like ``fix44/14e_IncorrectEnumValue``), or one skip."""
    reason = missing_shared_reason()
    if reason:
        return [pytest.param(None, id="no-definitions", marks=pytest.mark.skip(reason=reason))]
    return [
        pytest.param(f"{p.parent.name}/{p.stem}", id=f"{p.parent.name}/{p.stem}")
        for p in runner.definition_files(ACCEPTANCE_DIR, VERSIONS)
    ]


def selected_definitions(request: pytest.FixtureRequest, module_name: str) -> list[str]:
    """The definition names of this module's tests that survived -k / node-id selection.

    The module fixtures run the selected definitions in one go (one stream per FIX
    version) and each parametrized test reports its own definition's outcome.
    """
    names = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.module.__name__ != module_name:
            continue
        name = callspec.params.get("definition")
        if name and name not in names:
            names.append(name)
    return names


def streams_for(names: list[str]):
    """Parse the named definitions and split them into one ordered list per FIX version."""
    by_version: dict[str, list] = {v: [] for v in VERSIONS}
    for name in names:
        version, stem = name.split("/", 1)
        by_version[version].append(runner.parse_definition(ACCEPTANCE_DIR / version / f"{stem}.def"))
    return [by_version[v] for v in VERSIONS]

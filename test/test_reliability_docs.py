# SPDX-FileCopyrightText: 2026 mmed maintainers
# SPDX-License-Identifier: Apache-2.0
"""docs/RELIABILITY.md cannot drift: every test it names exists, and every reliability/fuzz test
is in it.

    python -m pytest test/test_reliability_docs.py
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "RELIABILITY.md"
# `test/test_x.py::test_name` with an optional parametrisation id, as the fault matrix writes it.
REF = re.compile(r"`test/(test_\w+\.py)::(test_\w+)(\[[^\]`]*\])?`")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test_")
    }


def _references() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in REF.finditer(DOC.read_text(encoding="utf-8"))]


def test_every_test_named_in_the_doc_exists() -> None:
    refs = _references()
    assert len(refs) > 40, (
        "the fault matrix names fewer tests than expected: did the format change?"
    )
    missing = [
        f"{f}::{t}"
        for f, t in refs
        if not (REPO / "test" / f).is_file() or t not in _test_names(REPO / "test" / f)
    ]
    assert not missing, f"docs/RELIABILITY.md names tests that do not exist: {missing}"


def test_every_reliability_and_fuzz_test_is_in_the_doc() -> None:
    named = set(_references())
    ours = sorted(
        p
        for pattern in ("test_reliability_*.py", "test_fuzz_*.py")
        for p in (REPO / "test").glob(pattern)
        if p.name != Path(__file__).name
    )
    absent = [
        f"{p.name}::{t}" for p in ours for t in sorted(_test_names(p)) if (p.name, t) not in named
    ]
    assert not absent, f"add these tests to the fault matrix in docs/RELIABILITY.md: {absent}"


def test_the_checker_sees_a_wrong_name() -> None:
    text = "| row | `test/test_train.py::test_no_such_test` |"
    ((f, t),) = [(m.group(1), m.group(2)) for m in REF.finditer(text)]
    assert t not in _test_names(REPO / "test" / f)

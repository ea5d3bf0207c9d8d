"""Only ``bot/store/`` speaks SQL: no statement text anywhere else in the bot or its cogs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
STORE = REPO / "bot" / "store"
SQL = re.compile(
    r"\bSELECT\b.+\bFROM\b|\bUPDATE\s+\w+\s+SET\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b"
    r"|\bDELETE\s+FROM\b|\bCREATE\s+(TABLE|INDEX)\b|\bPRAGMA\s+\w+",
    re.DOTALL,
)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    """Every string constant (f-string parts joined), with its line."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "?"
                for v in node.values
            )
            out.append((node.lineno, text))
    return out


def sql_outside_the_store() -> list[str]:
    found: list[str] = []
    for path in sorted([*(REPO / "bot").rglob("*.py"), *(REPO / "cogs").rglob("*.py")]):
        if STORE in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, text in _strings(tree):
            if SQL.search(text):
                found.append(f"{path.relative_to(REPO)}:{line}: {text[:80]!r}")
    return found


def test_no_sql_outside_the_store() -> None:
    assert sql_outside_the_store() == []


def test_the_check_sees_sql_where_it_is(tmp_path: Path) -> None:
    """The pattern finds the statements the store does write (so the test above can fail)."""
    texts = [
        text
        for path in STORE.rglob("*.py")
        for _, text in _strings(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert any(SQL.search(t) and "SELECT" in t for t in texts)
    assert any(SQL.search(t) and "UPDATE" in t for t in texts)
    assert SQL.search("DELETE FROM jobs WHERE id = ?")
    assert not SQL.search("DELETE /v1/tasks/{id}")
    assert not SQL.search("one UPDATE sets owner and expiry")

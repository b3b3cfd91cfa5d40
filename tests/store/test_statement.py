"""Intake's plain statements: one text, named for sqlite3 and SQLAlchemy, numbered for asyncpg."""

from __future__ import annotations

from gateway.store.database import Statement


def test_named_parameters_become_numbered_in_first_appearance_order() -> None:
    statement = Statement("SELECT :b, CAST(:a AS TEXT), :b::int, x::text FROM t WHERE y = :a")

    assert "SELECT $1, CAST($2 AS TEXT), $1::int, x::text FROM t WHERE y = $2" == (
        statement.positional
    )
    assert [20, 10] == statement.arguments({"a": 10, "b": 20, "unused": 30})

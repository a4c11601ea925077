"""Many rows per round trip, through the driver itself (bulk materialisation, the audit
log's bulk entries).

SQLAlchemy's executemany converts every value of every row through its column type
and builds a parameter dict per row: about ten times the cost of storing the row. Here
each distinct value is converted once by the same type processors (so the database
receives exactly what SQLAlchemy would send), rows are plain tuples, and the driver
does the rest: ``sqlite3``'s ``executemany``; on PostgreSQL ``COPY`` (through a
temporary table when conflicts are to be skipped or ids returned) and psycopg2's
``execute_batch`` for updates. Part of the caller's
transaction; commits nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa


def converter(conn: sa.Connection, column: sa.Column) -> Callable[[Any], Any]:
    """``column``'s bind processing on ``conn``'s dialect (identity when it has none)."""
    dialect = conn.dialect
    proc = column.type.dialect_impl(dialect).bind_processor(dialect)
    return proc if proc is not None else _same


def memo_converter(conn: sa.Connection, column: sa.Column) -> Callable[[Any], Any]:
    """:func:`converter` remembering each distinct (hashable) value's result: due dates
    and instants repeat over thousands of rows."""
    proc = converter(conn, column)
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = proc(value)
            return out

    return convert


def memo_result(conn: sa.Connection, column: sa.Column) -> Callable[[Any], Any]:
    """``column``'s result processing on ``conn``'s dialect, once per distinct raw value
    (for rows read with :func:`select`)."""
    dialect = conn.dialect
    proc = column.type.dialect_impl(dialect).result_processor(dialect, None) or _same
    seen: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return seen[value]
        except KeyError:
            out = seen[value] = proc(value)
            return out
        except TypeError:  # unhashable: psycopg2 hands JSON back already parsed
            return proc(value)

    return convert


def select(conn: sa.Connection, sql: str, params: tuple = ()) -> list[tuple]:
    """The raw rows of ``sql`` (``?`` placeholders, turned into ``%s`` on PostgreSQL),
    values as the driver returns them (see :func:`memo_result`)."""
    if is_postgres(conn):
        sql = sql.replace("?", "%s")
    cur = conn.connection.cursor()
    try:
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        cur.close()


def _same(value: Any) -> Any:
    return value


def is_postgres(conn: sa.Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _names(conn: sa.Connection, columns: Sequence[str]) -> str:
    quote = conn.dialect.identifier_preparer.quote
    return ", ".join(quote(c) for c in columns)


def insert(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: list[tuple],
    *,
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple]:
    """Insert ``rows`` (tuples of converted values in ``columns`` order).

    ``ignore_conflicts`` adds ``ON CONFLICT DO NOTHING``. ``returning`` names columns
    of the rows really inserted (a row skipped for a conflict is not among them),
    returned as tuples; match them to ``rows`` by a key among them, not by position.

    On SQLite, ``executemany`` returns nothing: the rows inserted are those whose
    ``id`` (the table's integer primary key) is above the largest one before the
    insert. That holds because the caller's transaction began with ``BEGIN
    IMMEDIATE`` (:mod:`engine.store.db`), which keeps every other writer out until it
    ends, and SQLite gives each new row the largest rowid plus one.
    """
    if not rows:
        return []
    quote = conn.dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({_names(conn, columns)}) VALUES "
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    cur = conn.connection.cursor()
    try:
        if is_postgres(conn):
            return _pg_insert(conn, cur, table, columns, rows, ignore_conflicts, returning)
        top = 0
        if returning:
            cur.execute(f"SELECT max(id) FROM {quote(table.name)}")
            top = cur.fetchone()[0] or 0
        cur.executemany(head + "(" + ", ".join("?" * len(columns)) + ")" + tail, rows)
        if not returning:
            return []
        cur.execute(
            f"SELECT {_names(conn, returning)} FROM {quote(table.name)} WHERE id > ? ORDER BY id",
            (top,),
        )
        return cur.fetchall()
    finally:
        cur.close()


def _pg_insert(conn, cur, table, columns, rows, ignore_conflicts, returning) -> list[tuple]:
    """COPY, the fastest way into PostgreSQL. With ``ignore_conflicts`` or
    ``returning``, COPY into a temporary table, then ``INSERT … SELECT … ON CONFLICT
    DO NOTHING RETURNING`` from it, in the rows' order (ids follow it)."""
    quote = conn.dialect.identifier_preparer.quote
    names = _names(conn, columns)
    if not ignore_conflicts and not returning:
        _copy(cur, f"{quote(table.name)} ({names})", rows)
        return []
    scratch = quote(f"hanchot_bulk_{table.name}")
    types = ", ".join(
        f"{quote(c)} {table.c[c].type.compile(dialect=conn.dialect)}" for c in columns
    )
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (ord integer, {types}) ON COMMIT DROP")
    cur.execute(f"TRUNCATE {scratch}")
    _copy(cur, f"{scratch} (ord, {names})", [(i, *r) for i, r in enumerate(rows)])
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) SELECT {names} FROM {scratch} ORDER BY ord"
        + (" ON CONFLICT DO NOTHING" if ignore_conflicts else "")
        + (f" RETURNING {_names(conn, returning)}" if returning else "")
    )
    cur.execute(sql)
    return [tuple(r) for r in cur.fetchall()] if returning else []


_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(v: Any) -> str:
    """One value in COPY's text format."""
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, int | float):
        return str(v)
    return v.isoformat()  # dates and instants


def _copy(cur, target: str, rows: list[tuple]) -> None:
    """``COPY target FROM STDIN`` (text format) of ``rows``, built column by column:
    each distinct value is formatted once (most repeat over the whole batch), and the
    lines are assembled by ``map``/``join`` without a Python loop per value."""
    import io

    if not rows:
        return
    columns = []
    for values in zip(*rows, strict=True):
        kinds = set(map(type, values))
        if kinds == {str} and not _NEEDS_ESCAPE.search("".join(values)):
            columns.append(values)  # keys, names: nothing to escape (the usual case)
        elif kinds == {int}:
            columns.append(map(str, values))  # ids, order
        else:
            text = {v: _copy_text(v) for v in set(values)}
            columns.append(map(text.__getitem__, values))
    body = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
    cur.copy_expert(f"COPY {target} FROM STDIN", io.StringIO(body))


def update(
    conn: sa.Connection,
    table: sa.Table,
    columns: Sequence[str],
    where: Sequence[str],
    rows: list[tuple],
) -> None:
    """``UPDATE table SET columns… WHERE where… (= each)`` once per row; each row holds
    the converted values of ``columns`` then of ``where``."""
    if not rows:
        return
    pg = is_postgres(conn)
    mark = "%s" if pg else "?"
    quote = conn.dialect.identifier_preparer.quote
    sets = ", ".join(f"{quote(c)} = {mark}" for c in columns)
    cond = " AND ".join(f"{quote(c)} = {mark}" for c in where)
    sql = f"UPDATE {quote(table.name)} SET {sets} WHERE {cond}"
    cur = conn.connection.cursor()
    try:
        if pg:
            from psycopg2.extras import execute_batch

            execute_batch(cur, sql, rows, page_size=1000)
        else:
            cur.executemany(sql, rows)
    finally:
        cur.close()

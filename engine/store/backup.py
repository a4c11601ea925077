"""``hanchot backup FILE`` and ``hanchot restore FILE`` (issue 9).

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``), page by page while
the daemon keeps running; the copy is written next to FILE and renamed into place only
when complete, so a FILE that exists is a whole backup. PostgreSQL: ``pg_dump
--format=custom --no-owner --no-privileges`` and ``pg_restore --no-owner
--no-privileges --exit-on-error --single-transaction`` (the client programs of the
``postgresql-client`` package, same major version as the server or newer); the
connection is passed in ``PG*`` environment variables, so the password never shows in
the process list.

A restore goes only into an empty database (no tables), then migrates it to this
version's schema, so a backup taken by an older hanchot restores into a newer one.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa

from engine.errors import StoreError
from engine.i18n import _
from engine.store import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


def _where(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _pg_env(url: str) -> dict[str, str]:
    """libpq's ``PG*`` variables for a SQLAlchemy PostgreSQL URL."""
    u = sa.engine.make_url(url)
    env = dict(os.environ)
    for var, value in (
        ("PGHOST", u.host),
        ("PGPORT", u.port),
        ("PGUSER", u.username),
        ("PGPASSWORD", u.password),
        ("PGDATABASE", u.database),
    ):
        if value is not None:
            env[var] = str(value)
    for k, v in u.query.items():  # sslmode=require...
        if k in ("sslmode", "sslrootcert", "sslcert", "sslkey"):
            env["PG" + k.upper()] = v if isinstance(v, str) else v[0]
    return env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StoreError(
            _(
                "{tool} not found: install PostgreSQL's client programs "
                "(Debian: apt-get install postgresql-client)"
            ).format(tool=name)
        )
    return found


def _run(cmd: list[str], env: dict[str, str]) -> None:
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise StoreError(
            _("{tool} failed: {error}").format(
                tool=os.path.basename(cmd[0]), error=r.stderr.strip() or f"exit {r.returncode}"
            )
        )


def _require_schema(url: str) -> None:
    engine = db.make_engine(url)
    try:
        revision = db.current_revision(engine)
    except sa.exc.OperationalError as e:
        raise StoreError(
            _("cannot open the database {where}: {error}").format(where=_where(url), error=e.orig)
        ) from None
    finally:
        engine.dispose()
    if revision is None:
        raise StoreError(
            _("the database {where} holds no hanchot data; nothing to back up").format(
                where=_where(url)
            )
        )


def backup(url: str, dest: Path) -> None:
    """Write a backup of the database at ``url`` to ``dest`` (which must not exist).

    Raises :class:`StoreError` when ``dest`` exists, the database holds no hanchot
    schema, or the backup fails (the partial file is removed).
    """
    dest = Path(dest)
    if dest.exists():
        raise StoreError(_("{file} exists already; choose a new file name").format(file=dest))
    if not dest.parent.is_dir():
        raise StoreError(_("folder {folder} does not exist").format(folder=dest.parent))
    path = db.sqlite_path(url)
    backend = sa.engine.make_url(url).get_backend_name()
    if path is None and backend != "postgresql":
        raise StoreError(
            _("backup supports SQLite and PostgreSQL, not {backend}").format(backend=backend)
        )
    if path is not None and not path.is_file():
        raise StoreError(_("no database at {path}").format(path=path))
    _require_schema(url)
    part = dest.with_name(dest.name + ".part")
    try:
        if path is not None:
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dst = sqlite3.connect(part)
            try:
                src.backup(dst, pages=1024)
            finally:
                dst.close()
                src.close()
        else:
            _run(
                [
                    _pg_tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={part}",
                ],
                _pg_env(url),
            )
        os.replace(part, dest)
    except sqlite3.Error as e:
        raise StoreError(_("backup failed: {error}").format(error=e)) from None
    finally:
        part.unlink(missing_ok=True)


def _kind(src: Path) -> str:
    try:
        with open(src, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise StoreError(
            _("cannot read {file}: {error}").format(file=src, error=e.strerror)
        ) from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgresql"
    raise StoreError(
        _("{file} is not a hanchot backup (neither SQLite nor pg_dump --format=custom)").format(
            file=src
        )
    )


def _check_sqlite_backup(src: Path) -> None:
    con = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.Error as e:
        raise StoreError(_("{file} is damaged: {error}").format(file=src, error=e)) from None
    finally:
        con.close()
    if ok != "ok":
        raise StoreError(_("{file} is damaged: {error}").format(file=src, error=ok))
    if "alembic_version" not in tables or "deadlines" not in tables:
        raise StoreError(_("{file} is a SQLite file but not a hanchot database").format(file=src))


def restore(url: str, src: Path) -> None:
    """Restore the backup ``src`` into the empty database at ``url``, then migrate it.

    Raises :class:`StoreError` when the database is not empty, the file is not a
    backup of the same kind of database, or the restore fails (SQLite: the target
    file is removed again; PostgreSQL: ``--single-transaction`` rolls it back).
    """
    src = Path(src)
    kind = _kind(src)
    path = db.sqlite_path(url)
    backend = "sqlite" if path is not None else sa.engine.make_url(url).get_backend_name()
    if kind != backend:
        raise StoreError(
            _("{file} is a {kind} backup; restore it into a {kind} database, not {backend}").format(
                file=src, kind=kind, backend=backend
            )
        )
    engine = db.make_engine(url)
    try:
        try:
            tables = sa.inspect(engine).get_table_names()
        except sa.exc.OperationalError as e:
            raise StoreError(
                _("cannot open the database {where}: {error}").format(
                    where=_where(url), error=e.orig
                )
            ) from None
        if tables:
            raise StoreError(
                _(
                    "the database {where} is not empty ({n} tables); restore goes only "
                    "into an empty database"
                ).format(where=_where(url), n=len(tables))
            )
        engine.dispose()
        if path is not None:
            _check_sqlite_backup(src)
            s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
            d = sqlite3.connect(path)
            try:
                s.backup(d)
            except sqlite3.Error as e:
                d.close()
                path.unlink(missing_ok=True)
                raise StoreError(_("restore failed: {error}").format(error=e)) from None
            finally:
                s.close()
                d.close()
        else:
            _run(
                [
                    _pg_tool("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    "--single-transaction",
                    f"--dbname={_pg_env(url)['PGDATABASE']}",
                    str(src),
                ],
                _pg_env(url),
            )
        db.migrate(engine)
    finally:
        engine.dispose()

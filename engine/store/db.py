"""Connecting to the tracking database, migrating it, and the one-daemon lock.

Any SQLAlchemy URL works; SQLite (the default, ``sqlite:///var/hanchot.db``) and
PostgreSQL are tested. The schema is owned by the Alembic migrations shipped in
``engine/migrations``; :func:`migrate` brings any database to the newest revision.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import DatabaseFault, DiskFull, StoreError
from engine.files import DIR_MODE, FILE_MODE, private_dir  # noqa: F401 (re-exported)
from engine.i18n import _

_log = logging.getLogger("hanchot.lock")

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: Key of the PostgreSQL advisory lock held by ``hanchot run`` ("hanchot" in ASCII).
PG_LOCK_KEY = 0x68616E63686F74
#: Transaction-scoped PostgreSQL advisory locks: one process at a time migrates, and
#: one at a time materialises, so any number of `hanchot` processes can start at once.
PG_MIGRATE_KEY = PG_LOCK_KEY + 1
PG_MATERIALISE_KEY = PG_LOCK_KEY + 2


def serialise(conn, key: int) -> None:
    """Wait for, then hold until the end of the current transaction, the PostgreSQL
    advisory lock ``key``. A no-op elsewhere: SQLite's ``BEGIN IMMEDIATE`` (see
    :func:`make_engine`) already lets one writer in at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


SessionFactory = Callable[[], Session]


def database_url(configured: str) -> str:
    """The URL to use: ``HANCHOT_DATABASE_URL`` wins over ``settings.yaml``."""
    return os.environ.get("HANCHOT_DATABASE_URL") or configured


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; ``None`` for other databases, ``:memory:``
    and URLs that do not parse (:func:`make_engine` reports those)."""
    try:
        u = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


_PASSWORD_IN_URL = re.compile(r"(?P<head>^[^:/?#]*://[^/?#@:]*:).*(?=@)")
_PASSWORD_NO_SCHEME = re.compile(r"(?P<head>[^\s:/@]+:)[^\s@]*(?=@)")


def mask_url(url: str) -> str:
    """``url`` with its password as ``***``, whether SQLAlchemy can parse it or not.

    Every message about a database URL goes through here: a malformed URL must not
    print the password it carries (``postgresql://u:secret@host:abc/db``).
    """
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - any unparsable URL: mask by hand
        masked = _PASSWORD_IN_URL.sub(r"\g<head>***", url)
        return masked if masked != url else _PASSWORD_NO_SCHEME.sub(r"\g<head>***", url)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; tighten it if group/others can
    read it. SQLite gives the ``-wal``/``-shm`` files the database file's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm")):
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
            os.chmod(p, stat.S_IMODE(st.st_mode) & 0o700)


def _prepare_sqlite(path: Path, where: str) -> None:
    """The database's directory 0700 and file 0600, or one clear error (a path under
    ``/proc``, a read-only or full disk)."""
    try:
        private_dir(path.parent)
        private_file(path)
    except OSError as e:
        raise os_fault(e, _("cannot create the database {where}").format(where=where)) from None


def os_fault(e: OSError, what: str) -> StoreError:
    """An :class:`OSError` about hanchot's files as one line: disk full gets its own code."""
    reason = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(_("{what}: the disk is full ({reason})").format(what=what, reason=reason))
    return StoreError(f"{what}: {reason}")


#: The databases this process opened, (masked URL, SQLite file or None): the last one
#: is named in :func:`db_fault` messages.
_opened: list[tuple[str, Path | None]] = []


def _sqlite_faults() -> tuple[tuple[str, str], ...]:
    """(text in SQLite's message, what to tell the admin), in the current language."""
    return (
        ("file is not a database", _("is not a SQLite database file")),
        (
            "database disk image is malformed",
            _("is damaged (malformed); restore it from a backup"),
        ),
        ("unable to open database file", _("cannot be opened")),
        ("readonly database", _("is read-only for this user")),
        ("disk i/o error", _("cannot be read or written")),
    )


def _no_room(reason: str, path: Path | None) -> bool:
    """SQLite in WAL mode reports a full disk as a plain "disk I/O error": it is one
    when the database's file system has no block left."""
    if "disk i/o error" not in reason or path is None:
        return False
    try:
        st = os.statvfs(path.parent)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 64 * 1024


def db_fault(e: sa.exc.DBAPIError) -> StoreError | None:
    """A database error that is no defect of hanchot's, as one line for the admin.

    Corrupt, foreign or unreachable databases give :class:`DatabaseFault` (exit 5);
    a full disk gives :class:`DiskFull` (exit 6). The transaction was rolled back,
    so nothing is half-written. ``None`` for other errors (a defect: let it show).
    """
    where, path = _opened[-1] if _opened else (_("the database"), None)
    reason = str(e.orig).strip().splitlines()[0] if e.orig is not None else str(e)
    fault = fault_for(reason, where, path)
    if fault is None and isinstance(e, sa.exc.OperationalError):
        msg = _("cannot use the database {where}: {reason}")
        return DatabaseFault(msg.format(where=where, reason=reason))
    return fault


def fault_for(reason: str, where: str, path: Path | None) -> StoreError | None:
    """The admin's one line for a driver's message about the database at ``where``
    (:class:`DiskFull`, :class:`DatabaseFault`), or ``None`` when it is none we know."""
    low = reason.lower()
    if "database or disk is full" in low or "no space left" in low or _no_room(low, path):
        msg = _("the disk holding {where} is full; nothing was changed ({reason})")
        return DiskFull(msg.format(where=where, reason=reason))
    for needle, text in _sqlite_faults():
        if needle in low:
            msg = _("the database {where} {problem} ({reason})")
            return DatabaseFault(msg.format(where=where, problem=text, reason=reason))
    return None


def where(url: str) -> str:
    """The database for people: the SQLite file's path, else the URL without password."""
    path = sqlite_path(url)
    if path is not None:
        return str(path)
    return mask_url(url)


def _sqlite_has_revision(path: Path) -> bool:
    """True when the SQLite file has an Alembic revision; opens it read-only."""
    import sqlite3

    def fault(e: sqlite3.Error) -> StoreError:
        return fault_for(str(e), str(path), path) or DatabaseFault(
            _("cannot use the database {where}: {reason}").format(where=path, reason=e)
        )

    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise fault(e) from None
    try:
        row = conn.execute("SELECT version_num FROM alembic_version LIMIT 1").fetchone()
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):
            return False
        raise fault(e) from None
    finally:
        conn.close()
    return row is not None


def open_existing(url: str) -> Engine | None:
    """An engine for the hanchot database at ``url``, or ``None`` when there is none yet.

    "None yet": no SQLite file (or an empty one), or a database without hanchot's
    tables. Never creates a file, a directory or a table, so read-only commands can
    say where they looked instead of leaving an empty database behind. Raises
    :class:`~engine.errors.StoreError` when the database cannot be read.
    """
    path = sqlite_path(url)
    if path is not None:
        if not path.is_file() or path.stat().st_size == 0:
            return None
        # Look read-only first: make_engine's WAL pragma would rewrite a foreign file.
        if not _sqlite_has_revision(path):
            return None
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    except sa.exc.SQLAlchemyError as e:
        engine.dispose()
        fault = db_fault(e) if isinstance(e, sa.exc.DBAPIError) else None
        if fault is not None:
            raise fault from None
        detail = str(getattr(e, "orig", None) or e).splitlines()[0]
        raise DatabaseFault(
            _("cannot use the database {where}: {reason}").format(where=where(url), reason=detail)
        ) from None
    if revision is None:
        engine.dispose()
        return None
    return engine


def make_engine(url: str) -> Engine:
    """An engine for ``url``; creates the SQLite file's directory if needed.

    SQLite runs in WAL mode with a busy timeout so the daemon and CLI commands can
    share the file. Raises :class:`~engine.errors.StoreError` for a bad URL.
    """
    try:
        u = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as e:
        if isinstance(e, sa.exc.ArgumentError):
            reason = str(e).replace(url, mask_url(url))
        else:  # int() of the port
            reason = _("the port must be a number")
        msg = _("database URL {url} is not valid: {reason}")
        raise StoreError(msg.format(url=mask_url(url), reason=reason)) from None
    path = sqlite_path(url)
    _opened.append((mask_url(url), path))
    if path is not None:
        _prepare_sqlite(path, str(path))
        engine = sa.create_engine(u, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
            # Let SQLAlchemy issue BEGIN itself (below), not the driver lazily.
            dbapi_conn.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            # IMMEDIATE: take the write lock at the start, so two processes never
            # both read then fail to upgrade to writing (SQLITE_BUSY in WAL mode);
            # the busy timeout then queues them instead.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    try:
        return sa.create_engine(u, pool_pre_ping=True)
    except Exception as e:  # missing driver, bad options
        where = u.render_as_string(hide_password=True)
        reason = str(e).replace(url, where)
        if u.password:
            reason = reason.replace(str(u.password), "***")
        msg = _("cannot use the database {where}: {reason}")
        raise StoreError(msg.format(where=where, reason=reason)) from None


def session_factory(engine: Engine) -> SessionFactory:
    """Sessions that keep loaded values after commit (we read them after sending)."""
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection):
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this version."""
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _shipped_head() -> str | None:
    """The newest revision, read from the text of the migration files: importing
    Alembic to find it costs ~100 ms of every ``run --once``. ``None`` when the files
    do not name one head plainly (a merge): then Alembic decides."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for p in (MIGRATIONS / "versions").glob("*.py"):
        text = p.read_text(encoding="utf-8")
        rev = re.search(r"^revision\s*=\s*[\"']([^\"']+)[\"']\s*$", text, re.M)
        down = re.search(r"^down_revision\s*=\s*(?:None|[\"']([^\"']+)[\"'])\s*$", text, re.M)
        if rev is None or down is None:
            return None
        revisions.add(rev.group(1))
        if down.group(1):
            downs.add(down.group(1))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def _at_head(engine: Engine) -> bool:
    """True when the database is certainly at the shipped head, asked without Alembic;
    False when unsure (no version table yet, a fault): :func:`migrate` then asks Alembic."""
    head = _shipped_head()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    except sa.exc.DBAPIError:
        return False
    return [r[0] for r in found] == [head]


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; ``None`` for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest); a no-op when there.

    Raises :class:`~engine.errors.StoreError` when the database cannot be reached or
    is newer than this version of hanchot.
    """
    if revision == "head" and _at_head(engine):
        return
    from alembic import command
    from alembic.util.exc import CommandError

    try:
        if revision == "head" and current_revision(engine) == head_revision():
            return
        with engine.begin() as conn:
            # Concurrent first starts on PostgreSQL raced to create alembic_version;
            # the second now waits here and finds the schema at head.
            serialise(conn, PG_MIGRATE_KEY)
            command.upgrade(_alembic_config(conn), revision)
    except CommandError as e:
        raise StoreError(_("cannot migrate the database: {error}").format(error=e)) from None
    except sa.exc.DBAPIError as e:
        fault = db_fault(e)
        if fault is None:
            raise
        raise fault from None


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade to ``revision`` (``base`` empties the schema). For tests and rollbacks."""
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def lock_file(database: Path) -> Path:
    """The one-daemon lock of a SQLite database: next to its real file."""
    return Path(os.path.realpath(database) + ".lock")


class ChangeWatch:
    """Whether another connection committed anything since the last look (SQLite's
    ``PRAGMA data_version``, on a connection of its own that never writes): what lets
    the daemon's idle checks skip their SQL. Commits of this process's other
    connections count as changes too."""

    def __init__(self, conn) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    @classmethod
    def open(cls, url: str) -> ChangeWatch | None:
        """A watch on the SQLite file of ``url``; None for any other database."""
        import sqlite3

        import sqlalchemy as sa

        u = sa.engine.make_url(url)
        if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
            return None
        conn = sqlite3.connect(u.database, check_same_thread=False, isolation_level=None)
        return cls(conn)

    def version(self) -> int | None:
        """Changes whenever another connection (of any process) has committed; None
        when the watch cannot tell (its connection broke): then nothing is skipped."""
        import sqlite3

        with self._lock:
            try:
                return self._conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:
                return None

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class DaemonLock:
    """Held by ``hanchot run`` so a second daemon on the same database refuses to start.

    SQLite: an OS file lock (``flock``) on ``<database file>.lock`` holding the pid,
    the database's real path (symlinks resolved), so a second daemon reaching the
    same file through a symlink or another relative path finds the lock taken.
    PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection.
    Other databases: no lock (the outbox claims still prevent double sending).
    Raises :class:`~engine.errors.StoreError` when another daemon holds it.
    """

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._fd: int | None = None
        self._conn = None

    def acquire(self) -> None:
        path = sqlite_path(self.url)
        if path is not None:
            lock_path = lock_file(path)
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            except OSError as e:
                what = _("cannot create the lock file {path}").format(path=lock_path)
                raise os_fault(e, what) from None
            st = os.fstat(fd)
            if st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077:
                os.fchmod(fd, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise StoreError(
                    _(
                        "another hanchot daemon is running on {path} (pid {pid}); "
                        "stop it first or use a different database"
                    ).format(path=path, pid=pid)
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._fd = fd
            return
        if self.engine.dialect.name == "postgresql":
            conn = self.engine.connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            if not got.scalar():
                conn.close()
                where = sa.engine.make_url(self.url).render_as_string(hide_password=True)
                raise StoreError(
                    _("another hanchot daemon is running on {where}; stop it first").format(
                        where=where
                    )
                )
            conn.commit()
            self._conn = conn

    # ------------------------------------------------------------ standby (issue 9)
    def _try_pg_lock(self) -> bool:
        """One ``pg_try_advisory_lock`` on a new dedicated connection; True if taken."""
        conn = self.engine.connect()
        try:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
            taken = bool(got.scalar())
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self._conn = conn
        return True

    def wait(self, stopping: threading.Event, poll: float = 1.0) -> bool:
        """``hanchot run --standby``: block until this process holds the lock.

        PostgreSQL: tries the advisory lock every ``poll`` seconds; the server frees it
        as soon as the active daemon's connection drops (its process died, or a clean
        stop), so the standby takes over within ``poll`` seconds of that. A database
        that does not answer is retried at the same pace. Returns True once held,
        False when ``stopping`` was set first. SQLite and other databases: exactly
        :meth:`acquire` (a refusal when another daemon holds the file lock; a file
        lock cannot be handed over between machines).
        """
        if self.engine.dialect.name != "postgresql":
            self.acquire()
            return True
        told = False
        while not stopping.is_set():
            try:
                if self._try_pg_lock():
                    return True
            except sa.exc.DBAPIError as e:
                _log.warning("standby: the database does not answer (%s); retrying", e.orig)
            else:
                if not told:
                    _log.info("standby: another daemon holds the lock; waiting to take over")
                    told = True
            stopping.wait(poll)
        return False

    def still_held(self) -> bool | None:
        """PostgreSQL: True while the lock's connection answers; after a database
        restart dropped it, tries to take the lock again: True if taken, False if
        another daemon has it now, None if the database still does not answer.
        Always True for SQLite (the file lock cannot be lost)."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))
                self._conn.commit()
                return True
            except sa.exc.DBAPIError:
                try:
                    self._conn.close()
                except Exception:
                    pass
                self._conn = None
        try:
            taken = self._try_pg_lock()
        except sa.exc.DBAPIError:
            return None
        if taken:
            _log.warning("the database lock was lost (server restart?); taken again")
        return taken

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
                self._conn.commit()
            except sa.exc.DBAPIError:
                pass  # the connection is gone, and the lock with it
            finally:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

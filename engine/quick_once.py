"""``hanchot run --once`` when there is nothing to do, answered in milliseconds (issue 13).

Cron runs ``hanchot run --once`` every few minutes; almost every run finds nothing to
send. The full cycle (:func:`engine.daemon.run_once`) imports SQLAlchemy, Typer and
the config loader before it learns that: ~0.5 s of CPU. This module, stdlib only,
answers that case before those imports, and only when it can prove that the full
cycle would do nothing at all:

1. **Same inputs as the last full run.** A *signature* (BLAKE2b) of the bytes of every
   file in the configuration and rules directories, every ``HANCHOT_*`` variable of
   the environment (``--database`` counted as ``HANCHOT_DATABASE_URL``), the current
   directory, and hanchot's code (name, size and time of every ``.py`` file of
   ``engine`` and ``notifications``) with the ``holidays`` package version and the
   Python version. A full run that ended with exit code 0 on SQLite writes it, with
   the database path, to ``var/cache/run-once.json`` beside the configuration (only
   when ``var/`` exists, like the calendar cache) and, with the *store mark* below,
   to the database (``store_meta``, key ``run_once``).
2. **Same store as the last full run.** The store mark: the schema revision, the
   newest event id and the newest audit row about events (recording or removing an
   event always appends one; the log is append-only and SQLite gives each new row a
   larger id), and every other ``store_meta`` row (the materialisation fingerprint,
   the ladder fingerprint). The local year of ``now`` must be the recorded one (the
   horizon moves with the year).
3. **Nothing due as of now** (indexed look-ups): no open deadline whose
   ``next_send_at`` has come, no pending outbox row whose attempt time has come or
   whose message could not be built, no row left in ``sending``, no failed row not yet
   in a failure summary, no pending portal notice.

Then the output is the full cycle's (``0 messages sent ...``) with exit code 0.
Anything unexpected — another option, a missing or foreign file, a database that
cannot be opened read-only, PostgreSQL — takes the full cycle, which reports errors
as always. ``HANCHOT_SHORTCUTS=off`` turns the shortcut off.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from _blake2 import blake2b  # hashlib would load OpenSSL: ~7 ms of start-up
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

#: Bump when the meaning of the signature or of the record changes.
FORMAT = 1
#: ``store_meta`` key of the record of the last full run.
RECORD_KEY = "run_once"
POINTER = "run-once.json"
#: ``HANCHOT_SHORTCUTS=off``: no shortcut.
SWITCH = "HANCHOT_SHORTCUTS"
#: Variables not in the signature: the switch, and the language (it changes only the
#: words of the output line, which the shortcut writes in the current language).
_NOT_INPUTS = (SWITCH, "HANCHOT_LANG")

_HERE = Path(__file__).resolve().parent
_PACKAGE_DIRS = (_HERE, _HERE.parent / "notifications")

#: The store mark (see the module docstring): each query's rows, in this order.
MARK_SQL = (
    "SELECT version_num FROM alembic_version ORDER BY version_num",
    "SELECT max(id) FROM events",
    "SELECT max(id) FROM audit_log WHERE entity = 'event'",
    # daemon_seen (engine/store/heartbeat.py) is written by every run, this one too.
    f"SELECT key, value FROM store_meta WHERE key NOT IN ('{RECORD_KEY}', 'daemon_seen') "
    "ORDER BY key",
)

#: Anything for a cycle to do as of ``?`` (an instant as SQLAlchemy stores it on
#: SQLite: naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff``)? One row means yes.
DUE_SQL = (
    # `+status`: not the (status, due) index, which would read every open deadline;
    # the range of next_send_at up to now is empty when nothing is due.
    "SELECT 1 FROM deadlines WHERE next_send_at <= ? AND +status = 'open' LIMIT 1",
    "SELECT 1 FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? LIMIT 1",
    "SELECT 1 FROM outbox WHERE state = 'pending' AND last_error LIKE 'internal error: %' "
    "AND ? IS NOT NULL LIMIT 1",
    "SELECT 1 FROM outbox WHERE state = 'sending' AND ? IS NOT NULL LIMIT 1",
    "SELECT 1 FROM outbox WHERE state = 'failed' AND reported_in IS NULL "
    "AND deadline_id IS NOT NULL AND ? IS NOT NULL LIMIT 1",
    "SELECT 1 FROM notices WHERE state = 'pending' AND ? IS NOT NULL LIMIT 1",
)

#: The options of ``run`` this shortcut reads (each at most once); any other takes Typer.
_VALUE_OPTIONS = ("--now", "--config", "--rules", "--database")
#: The calendar's years (``engine.core.calendar.FIRST_YEAR``/``LAST_YEAR``), narrowed:
#: ``--now`` outside them takes the full path, which reports it.
_YEARS = (1902, 2099)


def _code_signature(h) -> None:
    for top in _PACKAGE_DIRS:
        for folder, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".mo", ".j2", ".html", ".txt")):
                    st = os.stat(os.path.join(folder, name))
                    h.update(f"{folder}/{name} {st.st_size} {st.st_mtime_ns}\n".encode())
    h.update(f"python {sys.version}\n".encode())
    try:
        import importlib.util

        spec = importlib.util.find_spec("holidays")
        pkg = Path(spec.origin).parent if spec is not None and spec.origin else None
    except (ImportError, ValueError):
        pkg = None
    if pkg is not None:
        for entry in sorted(os.listdir(pkg.parent)):
            if entry.startswith("holidays-") and entry.endswith(".dist-info"):
                h.update(f"holidays {entry}\n".encode())
        st = (pkg / "countries" / "vietnam.py").stat()
        h.update(f"vietnam.py {st.st_size} {st.st_mtime_ns}\n".encode())


def signature(config_dir: Path | str, rules_dir: Path | str, env: Mapping[str, str]) -> str:
    """The inputs of a ``run --once`` (see the module docstring) as a hex digest.

    Raises OSError when a directory or file cannot be read."""
    h = blake2b(digest_size=32)
    h.update(f"hanchot run-once {FORMAT}\ncwd {os.getcwd()}\n".encode())
    for label, folder in (("config", config_dir), ("rules", rules_dir)):
        folder = os.path.abspath(folder)
        h.update(f"{label} {folder}\n".encode())
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                h.update(f"dir {name}\n".encode())
                continue
            with open(path, "rb") as f:
                data = f.read()
            h.update(f"file {name} {len(data)}\n".encode())
            h.update(data)
    for key in sorted(k for k in env if k.startswith("HANCHOT_") and k not in _NOT_INPUTS):
        h.update(f"env {key}={env[key]}\n".encode())
    _code_signature(h)
    return h.hexdigest()


def pointer_file(config_dir: Path | str) -> Path:
    """``var/cache/run-once.json`` beside the configuration directory."""
    return Path(os.path.abspath(config_dir)).parent / "var" / "cache" / POINTER


def store_mark(conn) -> list:
    """The store mark (see the module docstring) through a DB-API connection to SQLite."""
    out = []
    for sql in MARK_SQL:
        out.append([list(r) for r in conn.execute(sql).fetchall()])
    return out


def sqlite_instant(now: datetime) -> str:
    """``now`` as SQLAlchemy's ``DateTime`` stores it on SQLite (naive UTC)."""
    return now.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def anything_due(conn, now: datetime) -> bool:
    """True when a cycle as of ``now`` has something to do (see the module docstring)."""
    at = sqlite_instant(now)
    return any(conn.execute(sql, (at,)).fetchone() is not None for sql in DUE_SQL)


def local_year(now: datetime, timezone: str) -> int:
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(timezone)).year


def make_record(sig: str, mark: list, timezone: str, now: datetime) -> str:
    """The ``store_meta`` value that lets later runs take the shortcut."""
    return json.dumps(
        {
            "format": FORMAT,
            "signature": sig,
            "mark": mark,
            "timezone": timezone,
            "year": local_year(now, timezone),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


def _parse(args: list[str], env: Mapping[str, str]) -> dict | None:
    values: dict[str, str] = {}
    once = 0
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--once":
            once += 1
            continue
        name, eq, value = arg.partition("=")
        if name not in _VALUE_OPTIONS or name in values:
            return None
        if not eq:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if value.startswith("-") or not value:
            return None
        values[name] = value
    if once != 1:
        return None
    dirs = {}
    for name, var, default in (
        ("--config", "HANCHOT_CONFIG", "config"),
        ("--rules", "HANCHOT_RULES", "rules"),
    ):
        if name in values:
            dirs[name] = values[name]
        elif var in env:
            if not env[var]:
                return None
            dirs[name] = env[var]
        else:
            dirs[name] = default
    return {**values, **dirs}


def _now(text: str | None) -> datetime | None:
    """``--now`` as :func:`engine.commands.store_cmds.parse_now` reads it; None when it
    would refuse it (the full path then says why)."""
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        return None
    if not _YEARS[0] <= value.year <= _YEARS[1]:
        return None
    return value


def run_once_shortcut(args: list[str], env: Mapping[str, str]) -> int | None:
    """``hanchot run ARGS`` answered here: 0 after printing the report of a cycle that
    had nothing to do; None when that is not certain (then the full cycle runs)."""
    opts = _parse(args, env)
    if opts is None:
        return None
    now = _now(opts.get("--now"))
    if now is None:
        return None
    config_dir, rules_dir = opts["--config"], opts["--rules"]
    if not (os.path.isdir(config_dir) and os.path.isdir(rules_dir)):
        return None
    if "--database" in opts:
        env = {**env, "HANCHOT_DATABASE_URL": opts["--database"]}
    try:
        with open(pointer_file(config_dir), encoding="utf-8") as f:
            pointer = json.load(f)
        sig = signature(config_dir, rules_dir, env)
        if (
            not isinstance(pointer, dict)
            or pointer.get("format") != FORMAT
            or pointer.get("signature") != sig
            or not isinstance(pointer.get("database"), str)
        ):
            return None
        database = Path(pointer["database"])
        if not database.is_file():
            return None
        conn = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
        try:
            conn.execute("BEGIN")  # one snapshot for the record, the mark and the look-ups
            row = conn.execute(
                "SELECT value FROM store_meta WHERE key = ?", (RECORD_KEY,)
            ).fetchone()
            if row is None:
                return None
            record = json.loads(row[0])
            if (
                not isinstance(record, dict)
                or record.get("format") != FORMAT
                or record.get("signature") != sig
                or record.get("mark") != store_mark(conn)
                or record.get("year") != local_year(now, str(record.get("timezone")))
                or anything_due(conn, now)
            ):
                return None
        finally:
            conn.close()
    except (OSError, ValueError, TypeError, KeyError, sqlite3.Error):
        return None
    _seen(database, now)
    from engine.i18n import _

    # The line of engine.store.dispatch.DispatchReport for a cycle that did nothing
    # (the same message id; tests compare both paths in both languages).
    line = _(
        "{sent} messages sent ({reminders} reminders), {failed} failed, "
        "{deferred} deferred, {superseded} superseded"
    ).format(sent=0, reminders=0, failed=0, deferred=0, superseded=0)
    sys.stdout.write(line + "\n")
    return 0


def _seen(database: Path, now: datetime) -> None:
    """Write what :func:`engine.store.heartbeat.record_daemon_seen` writes after a cycle
    (``hanchot web``'s /healthz reads it): a run that had nothing to do still ran. Not
    being able to write it (the database busy) is not a reason to fail the run."""
    try:
        conn = sqlite3.connect(str(database), timeout=5)
        try:
            with conn:
                conn.execute(
                    "INSERT OR REPLACE INTO store_meta (key, value) VALUES ('daemon_seen', ?)",
                    (now.isoformat(),),
                )
        finally:
            conn.close()
    except sqlite3.Error:
        pass


# ------------------------------------------------------------ after a full run
def mark_before(engine) -> list | None:
    """The store mark before a full run materialises (SQLite only; None otherwise)."""
    if engine.dialect.name != "sqlite":
        return None
    raw = engine.raw_connection()
    try:
        return store_mark(raw)
    except sqlite3.Error:
        return None
    finally:
        raw.close()


def remember(engine, config_dir, sig: str | None, before: list | None, timezone: str, now) -> None:
    """After a full run that ended well: record what lets the next runs take the
    shortcut (see the module docstring). Nothing when the database is not a plain
    SQLite file, ``var/`` does not exist beside the configuration, or an event was
    recorded or removed (or the schema changed) while the run went on. A record that
    cannot be written only costs the next run its shortcut: nothing is raised."""
    if sig is None or before is None or engine.dialect.name != "sqlite":
        return
    url = engine.url
    if not url.database or url.database == ":memory:" or url.query:
        return
    database = os.path.abspath(url.database)
    pointer = pointer_file(config_dir)
    if not pointer.parent.parent.is_dir():
        return
    raw = engine.raw_connection()
    try:
        after = store_mark(raw)
        if after[:3] != before[:3]:
            return
        value = make_record(sig, after, timezone, now)
        cur = raw.cursor()
        old = cur.execute("SELECT value FROM store_meta WHERE key = ?", (RECORD_KEY,)).fetchone()
        if old is None or old[0] != value:
            cur.execute(
                "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", (RECORD_KEY, value)
            )
            raw.commit()
    except sqlite3.Error:
        return
    finally:
        raw.close()
    text = json.dumps({"format": FORMAT, "signature": sig, "database": database})
    try:
        with open(pointer, encoding="utf-8") as f:
            if f.read() == text:
                return
    except (OSError, ValueError):  # missing, unreadable, not UTF-8: written anew
        pass
    try:
        _write(pointer, text)
    except OSError:
        pass


def _write(path: Path, text: str) -> None:
    from engine.files import write_private

    write_private(path, text)

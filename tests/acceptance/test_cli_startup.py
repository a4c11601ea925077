"""Start-up (issue 13): a command imports what it needs and nothing else, and the
shortcut that makes a plain SQLite path absolute agrees with SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported(
    *args: str, cwd: Path = ROOT, lang: str | None = None, shortcuts: bool = True
) -> set[str]:
    """The modules a real ``hanchot ARGS`` process imported (``-X importtime``)."""
    import os

    env = dict(os.environ)
    if lang is not None:
        env["HANCHOT_LANG"] = lang
    if not shortcuts:
        env["HANCHOT_SHORTCUTS"] = "off"
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "from engine.cli import main; main()", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in r.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def test_due_imports_no_store_no_holidays_no_other_command(tmp_path):
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "var").mkdir(mode=0o700)  # as `hanchot run` leaves it
    # The calendar of 2022 comes from var/cache/calendar after the first run. In
    # Vietnamese (the default): the cache keeps the Vietnamese holiday names, and an
    # English message naming a holiday asks the holidays package for its English name.
    imported("due", "2022-03-11", "30 days", cwd=tmp_path, lang="vi")
    mods = imported("due", "2022-03-11", "30 days", cwd=tmp_path, lang="vi")
    for heavy in (
        "sqlalchemy",
        "alembic",
        "sqlmodel",
        "holidays",
        "rich.table",
        "dateutil.relativedelta",
        "engine.commands.store_cmds",
        "engine.commands.rules_cmds",
        "engine.loader.models",
    ):
        assert heavy not in mods, heavy


def test_check_imports_no_store():
    mods = imported("check")
    assert "engine.loader.config" in mods
    for heavy in ("sqlalchemy", "alembic", "sqlmodel", "engine.commands.store_cmds"):
        assert heavy not in mods, heavy


def test_help_still_lists_every_command():
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--help"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0
    for name in ("due", "calendar", "import-plan", "check", "schema", "plan", "event", "run"):
        assert f" {name} " in r.stdout, name


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/hanchot.db",
        "sqlite:///./x/../var/h.db",
        "sqlite:////abs/h.db",
        "sqlite:///var/a b.db",
        "sqlite:///var/h.db?mode=ro",
        "sqlite+pysqlite:///v.db",
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///d@x/ü.db",
        "postgresql://u:p@h/db",
    ],
)
@pytest.mark.parametrize("base", ["/srv/hanchot", "/tmp/a b/ư", "/"])
def test_sqlite_shortcut_agrees_with_sqlalchemy(url, base):
    import os

    import sqlalchemy as sa

    from engine.loader.config import absolute_sqlite_url

    u = sa.engine.make_url(url)
    name = u.database
    if u.get_backend_name() != "sqlite" or not name or name == ":memory:":
        expected = url
    elif Path(name).is_absolute():
        expected = url
    else:
        expected = u.set(database=os.path.normpath(Path(base) / name)).render_as_string(
            hide_password=False
        )
    assert absolute_sqlite_url(url, Path(base)) == expected


def test_run_once_with_nothing_due_imports_no_mail_and_no_alembic(tmp_path):
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    now = ("--now", "2022-01-03T08:00:00+07:00")
    imported("run", "--once", *now, cwd=tmp_path)  # creates and migrates the database
    # The full cycle (the shortcut off): no Alembic, no mail code.
    mods = imported("run", "--once", *now, cwd=tmp_path, shortcuts=False)
    assert "engine.store.materialise" in mods
    for heavy in ("alembic", "jinja2", "notifications", "notifications.transport"):
        assert heavy not in mods, heavy
    # The shortcut (engine.quick_once): not even SQLAlchemy or Typer.
    mods = imported("run", "--once", *now, cwd=tmp_path)
    assert "engine.quick_once" in mods
    for heavy in ("sqlalchemy", "typer", "pydantic", "yaml", "engine.store.materialise"):
        assert heavy not in mods, heavy


def test_root_help_before_a_command_name_lists_every_command():
    r = subprocess.run(
        [sys.executable, "-m", "engine.cli", "--help", "due"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )
    assert r.returncode == 0
    assert " status " in r.stdout and " check " in r.stdout

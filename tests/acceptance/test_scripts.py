"""``scripts/_venv.sh``, which run.sh and test.sh source: install only when needed.

A fake ``.venv/bin/python`` records each pip call instead of installing, so the test
sees exactly which installs the script asks for.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$(dirname "$0")/../pip-calls"
"""


def make_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "_venv.sh", repo / "scripts" / "_venv.sh")
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    python = repo / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON, encoding="utf-8")
    python.chmod(0o755)
    return repo


def setup(repo: Path, extras: str = "") -> list[str]:
    """Source _venv.sh as run.sh (no extras) or test.sh ('test') does; the installs made."""
    calls = repo / ".venv" / "pip-calls"
    calls.unlink(missing_ok=True)
    r = subprocess.run(
        ["bash", "-c", f'source scripts/_venv.sh "{extras}"'],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    if not calls.exists():
        return []
    return [
        c for c in calls.read_text().splitlines() if c.startswith("-m pip install") and "-e" in c
    ]


def test_run_after_test_installs_nothing(tmp_path):
    repo = make_repo(tmp_path)
    assert setup(repo, "test") == ["-m pip install --disable-pip-version-check -e .[test]"]
    assert setup(repo) == []  # run.sh: the test install includes the base install
    assert setup(repo, "test") == []


def test_more_extras_are_added_to_those_installed(tmp_path):
    repo = make_repo(tmp_path)
    assert setup(repo) == ["-m pip install --disable-pip-version-check -e ."]
    assert setup(repo, "test") == ["-m pip install --disable-pip-version-check -e .[test]"]
    assert setup(repo, "postgres") == [
        "-m pip install --disable-pip-version-check -e .[postgres,test]"
    ]
    assert setup(repo, "test") == []


def test_a_changed_pyproject_reinstalls_with_the_extras_installed(tmp_path):
    repo = make_repo(tmp_path)
    setup(repo, "test")
    (repo / "pyproject.toml").write_text('[project]\nname = "y"\n', encoding="utf-8")
    assert setup(repo) == ["-m pip install --disable-pip-version-check -e .[test]"]
    assert setup(repo, "test") == []


def test_an_older_stamp_is_understood(tmp_path):
    # Stamps written before the extras were recorded apart: "<hash16><extras>".
    repo = make_repo(tmp_path)
    setup(repo, "test")
    stamp = repo / ".venv" / ".hanchot-stamp"
    hash16, extras = stamp.read_text().split()
    stamp.write_text(f"{hash16}{extras}\n")
    assert setup(repo, "test") == []
    assert setup(repo) == []

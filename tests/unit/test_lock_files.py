"""The lock files (``requirements/*.txt``, written by ``scripts/lock.sh``) pin every
dependency that ``pyproject.toml`` names, within its bounds, each with hashes.

When this fails after adding a dependency: run ``bash scripts/lock.sh``."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def locked(name: str) -> dict[str, tuple[str, int]]:
    """canonical name -> (version, number of hashes) of one lock file."""
    text = (ROOT / "requirements" / name).read_text("utf-8")
    out = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9_.\-]+)==([^\s\\;]+)", block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return out


def wanted(*extras: str) -> list[Requirement]:
    reqs = [Requirement(r) for r in PYPROJECT["dependencies"]]
    for extra in extras:
        reqs += [Requirement(r) for r in PYPROJECT["optional-dependencies"][extra]]
    return reqs


@pytest.mark.parametrize(
    "lock,extras",
    [("runtime.txt", ("postgres",)), ("test.txt", ("postgres", "test"))],
)
def test_lock_names_every_dependency_within_its_bounds(lock, extras):
    pins = locked(lock)
    assert pins, f"requirements/{lock} pins nothing"
    missing = [str(r) for r in wanted(*extras) if canonicalize_name(r.name) not in pins]
    assert not missing, f"not in requirements/{lock}: {missing}; run bash scripts/lock.sh"
    outside = [
        f"{r} (locked {pins[canonicalize_name(r.name)][0]})"
        for r in wanted(*extras)
        if not r.specifier.contains(pins[canonicalize_name(r.name)][0], prereleases=True)
    ]
    assert not outside, f"locked outside the bounds of pyproject.toml: {outside}"
    unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pinned without --hash: {unhashed}"


def test_runtime_lock_is_part_of_the_test_lock():
    runtime, test = locked("runtime.txt"), locked("test.txt")
    differ = {
        n: (v, test.get(n, (None,))[0])
        for n, (v, _) in runtime.items()
        if test.get(n, (None,))[0] != v
    }
    assert not differ, f"runtime and test locks disagree: {differ}; run bash scripts/lock.sh"


def test_lock_files_carry_no_machine_specific_index():
    for lock in ("runtime.txt", "test.txt"):
        text = (ROOT / "requirements" / lock).read_text("utf-8")
        assert not re.search(r"^--(index-url|extra-index-url|find-links|trusted-host)", text, re.M)


def test_the_parser_sees_a_missing_pin(tmp_path, monkeypatch):
    # the check can fail: a lock without SQLAlchemy is reported
    text = (ROOT / "requirements" / "runtime.txt").read_text("utf-8")
    cut = re.sub(r"\nsqlalchemy==[^\n]*(\n    [^\n]*)*", "\n", text, flags=re.I)
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "runtime.txt").write_text(cut, "utf-8")
    import sys

    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert "sqlalchemy" in {canonicalize_name(r.name) for r in wanted()}
    assert "sqlalchemy" not in locked("runtime.txt")

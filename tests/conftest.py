"""Fixtures shared by every test directory."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Messages are Vietnamese by default. Most tests assert the English message ids, so the
# suite (and every `hanchot` subprocess it starts, which inherits the environment) runs
# in English; the tests of the Vietnamese text set HANCHOT_LANG=vi themselves
# (tests/acceptance/test_cli_languages.py runs the same commands in both).
os.environ["HANCHOT_LANG"] = "en"

# Property tests explore new random examples on every developer run; in CI (CI=true)
# they run a fixed, derandomised set, so a landing is not decided by the seed.
try:
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        _hypothesis_settings.load_profile("ci")
except ImportError:  # pragma: no cover - hypothesis is a test extra
    pass

#: A small, valid configuration: units, a group, roles and one policy.
BASE_FILES: dict[str, str] = {
    "config/units.yaml": """\
        units:
          van-phong:
            name: Văn phòng Sở
            email: vanphong@example.gov.vn
            head: {title: Chánh Văn phòng, email: cvp@example.gov.vn}
          thanh-tra:
            name: Thanh tra Sở
            email: [thanhtra@example.gov.vn, phapche@example.gov.vn]
            head: {title: Chánh Thanh tra, email: ctt@example.gov.vn}
          qlcn: {name: Phòng Quản lý Công nghiệp, email: qlcn@example.gov.vn}
          qlnl: {name: Phòng Quản lý Năng lượng, email: qlnl@example.gov.vn}
          ban-giam-doc: {name: Ban Giám đốc Sở, email: bgd@example.gov.vn}
        groups:
          phong-chuyen-mon: [qlcn, qlnl]
        roles:
          oversight: thanh-tra
          director: ban-giam-doc
        """,
    "config/escalation.yaml": """\
        policies:
          default:
            - {at: 5 working days before, notify: [lead]}
            - {at: due, notify: [lead, coordinating]}
            - {at: 1 working day after, notify: [lead.head, oversight], repeat: 5 working days}
        """,
}

RuleTree = Callable[..., tuple[Path, Path]]


@pytest.fixture
def make_rule_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RuleTree:
    """Write a config/ and rules/ tree; returns (Path("config"), Path("rules")).

    ``files`` maps a path relative to the tree ("rules/a.yaml", "config/units.yaml")
    to its text (dedented; ``None`` leaves the file out). With ``base=True`` the
    files of :data:`BASE_FILES` are written first. The test's working directory
    becomes the tree, so messages read ``rules/a.yaml:3: ...``.
    """
    count = 0

    def make(files: dict[str, str | None], *, base: bool = True) -> tuple[Path, Path]:
        nonlocal count
        count += 1
        root = tmp_path / f"tree{count}"
        (root / "config").mkdir(parents=True)
        (root / "rules").mkdir()
        merged: dict[str, str | None] = dict(BASE_FILES) if base else {}
        merged.update(files)
        for rel, text in merged.items():
            if text is None:
                continue
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        monkeypatch.chdir(root)
        return Path("config"), Path("rules")

    return make

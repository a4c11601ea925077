"""The portal's actions from the command line: the same functions, the same checks.

``ra-soat`` is due Friday 29/07/2022; an extension to Friday 12/08/2022 is asked by
the lead (qlcn) and approved by the focal point (settings ``admin_email``, Văn phòng).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOW = "2022-07-20T09:00:00+07:00"
RULES = """\
rules:
  - {id: ra-soat, title: Rà soát TTHC, lead: qlcn, due: {on: 2022-07-29}}
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    r = hanchot(tmp_path, "run", "--once")  # creates the store (nothing due on 20/07)
    assert r.returncode == 0, r.stderr
    return tmp_path


def hanchot(site: Path, *args: str, now: bool = True):
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("HANCHOT_") or k == "HANCHOT_LANG"
    }
    environ["HANCHOT_LANG"] = "en"
    return subprocess.run(
        [sys.executable, "-c", "from engine.cli import main; main()", *args]
        + (["--now", NOW] if now else []),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=site,
        env=environ,
        timeout=120,
    )


def test_extension_requested_and_approved_on_the_command_line(site):
    r = hanchot(
        site,
        "extension",
        "request",
        "ra-soat",
        "once",
        "--to",
        "2022-08-12",
        "--reason",
        "Chờ ý kiến Sở Tư pháp",
        "--by",
        "qlcn@example.gov.vn",
    )
    assert r.returncode == 0, r.stderr
    r = hanchot(site, "extension", "approve", "ra-soat", "once", "--by", "qlcn@example.gov.vn")
    assert r.returncode == 2 and "may not decide extensions" in r.stderr
    r = hanchot(site, "extension", "approve", "ra-soat", "once")  # admin_email: Văn phòng
    assert r.returncode == 0, r.stderr
    assert "2022-08-12" in r.stdout
    r = hanchot(site, "report", "--period", "2022-Q3", "--format", "json")
    (d,) = json.loads(r.stdout)["deadlines"]
    assert (d["due"], d["original_due"]) == ("2022-08-12", "2022-07-29")


def test_no_store_yet_is_an_error_not_a_new_database(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    for args in (("confirm", "ra-soat", "once"), ("report", "--period", "2022")):
        r = hanchot(tmp_path, *args)
        assert r.returncode == 2 and "no database" in r.stderr, r.stderr
    assert not (tmp_path / "var" / "hanchot.db").exists()


def test_errors_exit_2_without_traceback(site):
    for args, want in (
        (("confirm", "ra-soat", "once"), "no report waiting"),
        (("confirm", "ra-soat", "2022"), "no deadline ra-soat 2022"),
        (("extension", "approve", "ra-soat", "once"), "no extension request"),
        (
            ("extension", "refuse", "ra-soat", "once", "--reason", "x", "--by", "x@y.vn"),
            "x@y.vn is not an address",
        ),
        (
            (
                "extension",
                "request",
                "ra-soat",
                "once",
                "--to",
                "2022-07-28",
                "--reason",
                "r",
                "--by",
                "qlcn@example.gov.vn",
            ),
            "must be after",
        ),
        (("return", "ra-soat", "once", "--reason", "r"), "no report waiting"),
    ):
        r = hanchot(site, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert want in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_bad_web_settings_are_reported_with_their_line(tmp_path):
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    settings = tmp_path / "config" / "settings.yaml"
    lines = settings.read_text(encoding="utf-8").splitlines()
    lines += ["web:", "  base_url: ftp://nhachan.example.gov.vn", "  token_days: 0"]
    settings.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = hanchot(tmp_path, "check", now=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    n = len(lines)
    assert f"config/settings.yaml:{n - 1}:" in r.stderr  # base_url
    assert f"config/settings.yaml:{n}:" in r.stderr  # token_days

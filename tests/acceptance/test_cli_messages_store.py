"""Issue 7.12, the store and daemon side: `run --once`, `done`/`waive` errors and the
daemon's own errors speak Vietnamese by default and English on request.

Every Vietnamese text below was written from the catalogue's wording
(engine/locale/vi/store-daemon.po), not copied from the program's output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.acceptance.test_cli_store import RULES, hanchot, mails

ROOT = Path(__file__).resolve().parents[2]

# 2022-07-22 08:00 (+07): the deadline bao-cao-6-thang is due Friday 29/07/2022; five
# working days before it (Thu 28, Wed 27, Tue 26, Mon 25, then Fri 22 — the weekend of
# 23–24 does not count, no holiday in between) is Friday 22/07, the default policy's
# first stage, which notifies the lead only: Văn phòng Sở, one address. The other
# rule waits for a `publication` event that is not recorded. So one message carrying
# one reminder.
FIRST_STAGE = "2022-07-22T08:00+07:00"
REPORT = {
    "en": "1 messages sent (1 reminders), 0 failed, 0 deferred, 0 superseded",
    "vi": "Đã gửi 1 thư (1 lời nhắc), 0 thất bại, 0 hoãn lại, 0 được thay bằng lần nhắc sau",
}
SENT_LOG = {
    "en": "sent <{mid}> to vanphong@example.gov.vn: 1 deadline(s)",
    "vi": "đã gửi <{mid}> tới vanphong@example.gov.vn: 1 hạn",
}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "plan.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


def _sent_line(stderr: str) -> str:
    (line,) = [ln for ln in stderr.splitlines() if "vanphong@example.gov.vn" in ln]
    return line


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_run_once_report_and_log_in_both_languages(site, lang):
    r = hanchot(site, "run", "--once", "--now", FIRST_STAGE, env={"HANCHOT_LANG": lang})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == REPORT[lang]
    line = _sent_line(r.stderr)
    mid = line.split("<", 1)[1].split(">", 1)[0]
    assert line.endswith(" hanchot.dispatch: " + SENT_LOG[lang].format(mid=mid))
    # The mail itself is Vietnamese whatever the operator reads.
    (msg,) = mails(site)
    assert msg["Subject"] == "[Nhắc hạn] 1 việc sắp đến hạn — Văn phòng Sở"


@pytest.mark.parametrize(
    ("env", "lang"),
    [
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "vi_VN.UTF-8"}, "en"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "C.UTF-8"}, "vi"),
    ],
)
def test_language_from_the_locale_without_hanchot_lang(site, env, lang):
    base = {"HANCHOT_LANG": "", "LC_ALL": "", "LC_MESSAGES": "", "LANG": ""}
    r = hanchot(site, "run", "--once", "--now", FIRST_STAGE, env=base | env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == REPORT[lang]


CLOSED = {
    "en": "deadline bao-cao-6-thang once is already done on Thứ Năm, 28/07/2022 at 05:35 "
    "by cv (BC 12)",
    "vi": "hạn bao-cao-6-thang once đã ở trạng thái done: cv ghi nhận vào Thứ Năm, "
    "28/07/2022 lúc 05:35 (BC 12)",
}
UNKNOWN = {
    "en": "no deadline khong-co once; `hanchot status` or `hanchot plan` lists them",
    "vi": "không có hạn khong-co once; xem danh sách các hạn bằng `hanchot status` hoặc "
    "`hanchot plan`",
}


def _one_line_error(r, code: int = 2) -> str:
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    (line,) = r.stderr.splitlines()
    return line


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_closing_errors_in_both_languages(site, lang):
    env = {"HANCHOT_LANG": lang}
    # 05:35 on 28/07 in Hồ Chí Minh City is 22:35 UTC on 27/07: people read the local day.
    now = "2022-07-28T05:35+07:00"
    assert hanchot(site, "run", "--once", "--now", now, env=env).returncode == 0
    done = ("done", "bao-cao-6-thang", "once", "--evidence", "BC 12", "--by", "cv")
    assert hanchot(site, *done, "--now", now, env=env).returncode == 0
    r = hanchot(site, "waive", "bao-cao-6-thang", "once", "--reason", "x", env=env)
    assert _one_line_error(r) == "hanchot: " + CLOSED[lang]
    r = hanchot(site, "done", "khong-co", "once", "--evidence", "x", env=env)
    assert _one_line_error(r) == "hanchot: " + UNKNOWN[lang]


POLL = {
    "en": "HANCHOT_POLL_SECONDS must be a positive number of seconds, not {value!r}",
    "vi": "HANCHOT_POLL_SECONDS phải là một số giây lớn hơn 0, không phải {value!r}",
}


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("value", ["abc", "0", "-5", "nan", "inf"])
def test_bad_poll_interval_is_a_usage_error_not_a_traceback(site, lang, value):
    # Was: float('abc') raised ValueError out of `hanchot run`, a traceback.
    r = hanchot(site, "run", env={"HANCHOT_LANG": lang, "HANCHOT_POLL_SECONDS": value})
    assert _one_line_error(r) == "hanchot: " + POLL[lang].format(value=value)
    assert not (site / "var").exists()  # refused before the database was created

"""Message language: Vietnamese by default, English on request; the catalogue is complete."""

from __future__ import annotations

import pytest

from engine import i18n, i18n_build


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({}, "vi"),
        ({"LANG": "C.UTF-8"}, "vi"),
        ({"LANG": "vi_VN.UTF-8"}, "vi"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "en_GB.UTF-8", "LANG": "vi_VN.UTF-8"}, "en"),
        ({"HANCHOT_LANG": "en"}, "en"),
        ({"HANCHOT_LANG": "vi", "LANG": "en_US.UTF-8"}, "vi"),
        ({"HANCHOT_LANG": "EN"}, "en"),
    ],
)
def test_language_from_environment(monkeypatch, env, want):
    for var in ("HANCHOT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert i18n.language() == want


def test_every_message_has_a_vietnamese_translation_and_the_mo_is_compiled():
    report = i18n_build.check()
    problems = [f"{m.where}: {m.id!r}" for m in report.missing] + report.placeholders
    problems += report.conflicts
    assert not problems, "untranslated or mismatched messages:\n" + "\n".join(problems)
    assert not report.stale_mo, "run: python -m engine.i18n_build compile"


def test_check_reports_missing_mismatched_conflicting_and_stale(tmp_path):
    root = tmp_path / "repo"
    (root / "engine").mkdir(parents=True)
    (root / "notifications").mkdir()
    (root / "engine" / "m.py").write_text(
        "from engine.i18n import _, ngettext\n"
        "_('unknown unit {unit!r}')\n"
        "_('not translated')\n"
        "ngettext('{n} rule', '{n} rules', 2)\n",
        encoding="utf-8",
    )
    po = tmp_path / "po"
    po.mkdir()
    (po / "a.po").write_text(
        'msgid "unknown unit {unit!r}"\nmsgstr "không rõ đơn vị"\n\n'
        'msgid "{n} rule"\nmsgid_plural "{n} rules"\nmsgstr[0] "{n} quy tắc"\n',
        encoding="utf-8",
    )
    (po / "b.po").write_text(
        'msgid "unknown unit {unit!r}"\nmsgstr "đơn vị {unit!r} không có"\n', encoding="utf-8"
    )
    mo = po / "LC_MESSAGES" / "hanchot.mo"
    report = i18n_build.check(root, po, mo)
    assert [m.id for m in report.missing] == ["not translated"]
    assert len(report.placeholders) == 1 and "unknown unit" in report.placeholders[0]
    assert len(report.conflicts) == 1 and report.conflicts[0].startswith("b.po:")
    assert report.stale_mo and not report.ok

    (po / "b.po").unlink()
    assert i18n_build.compile_mo(po, mo) == 2
    assert not i18n_build.check(root, po, mo).stale_mo

"""``completion: direct | confirm`` (issue 8.3) on a real SQLite store and through the
portal's pages: the rule's key wins over settings' ``web.completion``, which wins over
the built-in rule (direct only when the lead is the focal point itself).

REVIEW_RULE is led by qlcn, a department; REPORT_RULE by van-phong, the focal point.
Both are due Friday 29/07/2022; the reports below are made on Thu 21/07/2022.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.core.config import WebSettings
from engine.store import portal_ops as po
from engine.store.materialise import materialise, rule_fingerprint
from engine.store.portal_tables import notices
from engine.store.tables import DONE, REPORTED, deadlines
from engine.web.app import create_app
from engine.web.tokens import Signer
from tests.integration.portal_helpers import ADMIN, QLCN, REVIEW_RULE, portal_config, who
from tests.integration.store_helpers import REPORT_RULE, local, open_store

WEB = "http://portal.test"


def store(tmp_path, *, review=REVIEW_RULE, completion=None):
    cfg = portal_config(
        tmp_path,
        rules=(REPORT_RULE, review),
        web=WebSettings(base_url=WEB, completion=completion),
    )
    engine, sessions = open_store(cfg)
    with sessions() as s, s.begin():
        materialise(s, cfg, local(2022, 7, 1))
    return cfg, engine, sessions


def report(cfg, sessions, tmp_path, rule_id: str, email: str) -> str:
    with sessions() as s, s.begin():
        d = s.execute(sa.select(deadlines.c.id).where(deadlines.c.rule_id == rule_id)).scalar()
        return po.report_completion(
            s,
            cfg,
            d,
            who(cfg, email),
            doc_number="88/BC-QLCN",
            doc_date=None,
            note="",
            data_dir=tmp_path / "var",
            now=local(2022, 7, 21, 9),
        )


def notices_to(sessions) -> list[str]:
    with sessions() as s:
        return [r.recipient for r in s.execute(sa.select(notices.c.recipient))]


@pytest.mark.parametrize(
    ("rule_completion", "web_completion", "expected"),
    [
        (None, None, REPORTED),  # built in: qlcn is not the focal point
        ("direct", None, DONE),  # the rule says so
        (None, "direct", DONE),  # the deployment's default
        ("confirm", "direct", REPORTED),  # the rule wins over the deployment
        (None, "confirm", REPORTED),
    ],
)
def test_which_policy_applies(tmp_path, rule_completion, web_completion, expected):
    review = replace(REVIEW_RULE, completion=rule_completion)
    cfg, engine, sessions = store(tmp_path, review=review, completion=web_completion)
    try:
        assert report(cfg, sessions, tmp_path, "ra-soat-tthc", QLCN) == expected
        # Only a report waiting for confirmation asks the focal point for it.
        assert notices_to(sessions) == ([ADMIN] if expected == REPORTED else [])
    finally:
        engine.dispose()


def test_the_focal_point_reporting_closes_at_once_even_under_confirm(tmp_path):
    """Nobody but the focal point confirms: its own report is final."""
    review = replace(REVIEW_RULE, completion="confirm")
    cfg, engine, sessions = store(tmp_path, review=review, completion="confirm")
    try:
        assert report(cfg, sessions, tmp_path, "ra-soat-tthc", ADMIN) == DONE
        assert report(cfg, sessions, tmp_path, "bao-cao-6-thang", ADMIN) == DONE
    finally:
        engine.dispose()


def test_a_changed_completion_changes_the_rule_fingerprint():
    assert rule_fingerprint(replace(REVIEW_RULE, completion="direct")) != rule_fingerprint(
        REVIEW_RULE
    )


def _form_note(client, signer, sessions, email: str, rule_id: str) -> str:
    with sessions() as s:
        d = s.execute(sa.select(deadlines.c.id).where(deadlines.c.rule_id == rule_id)).scalar()
    token = signer.action_token(email, d, "report", local(2022, 7, 21, 9))
    page = client.get(f"/a/{token}")
    assert page.status_code == 200, page.text
    return re.search(r'<p class="notice" id="completion-note">([^<]*)</p>', page.text).group(1)


@pytest.mark.parametrize(
    ("rule_completion", "email", "says"),
    [
        (None, QLCN, "đầu mối kiểm soát TTHC xác nhận"),
        ("direct", QLCN, "hạn được đóng ngay"),
        ("confirm", ADMIN, "hạn được đóng ngay"),
    ],
)
def test_the_report_form_says_what_will_happen(tmp_path, rule_completion, email, says):
    review = replace(REVIEW_RULE, completion=rule_completion)
    cfg, engine, sessions = store(tmp_path, review=review)
    signer = Signer("test-secret-" * 4)
    app = create_app(
        cfg, sessions, signer=signer, clock=lambda: local(2022, 7, 21, 9), data_dir=tmp_path
    )
    try:
        client = TestClient(app, base_url=WEB, follow_redirects=False)
        assert says in _form_note(client, signer, sessions, email, "ra-soat-tthc")
    finally:
        engine.dispose()

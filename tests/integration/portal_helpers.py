"""A config for the portal tests: the store tests' units plus role ``admin``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from engine.core.config import Config, WebSettings
from engine.core.rules import On, Rule
from engine.store.portal_ops import person
from tests.integration.store_helpers import DIRECTORY, REPORT_RULE, make_config

PORTAL_DIRECTORY = replace(
    DIRECTORY,
    roles={"oversight": "thanh-tra", "director": "ban-giam-doc", "admin": "van-phong"},
)

#: Led by a department (not the focal point): completion needs confirmation.
REVIEW_RULE = Rule(
    id="ra-soat-tthc",
    title="Rà soát, đánh giá thủ tục hành chính năm 2022",
    lead="qlcn",
    due=On(date(2022, 7, 29)),  # a Friday
    coordinating=("van-phong",),
    plan_item="5",
    basis="Nghị định 63/2010/NĐ-CP",
    output="Báo cáo kết quả rà soát",
)

ADMIN = "van-phong@example.gov.vn"
QLCN = "qlcn@example.gov.vn"
QLNL = "qlnl@example.gov.vn"
DIRECTOR = "ban-giam-doc@example.gov.vn"


def portal_config(tmp_path: Path, **kw) -> Config:
    web = kw.pop("web", WebSettings(base_url="http://portal.test"))
    cfg = make_config(tmp_path, rules=kw.pop("rules", (REPORT_RULE, REVIEW_RULE)), **kw)
    settings = replace(cfg.settings, data_dir=str(tmp_path / "var"), web=web)
    return replace(cfg, settings=settings, directory=PORTAL_DIRECTORY)


def who(config: Config, email: str):
    p = person(config.directory, email)
    assert p is not None, email
    return p

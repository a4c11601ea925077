"""Sign-in rate limiting behind a reverse proxy (``web.trusted_proxies``): the client
address comes from ``X-Forwarded-For`` only when the connection is from a trusted
proxy, read from the right, so a client cannot choose its own address."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from engine.core.config import WebSettings
from engine.loader.config import load_config
from engine.store.materialise import materialise
from engine.store.portal_tables import signins
from engine.web.app import client_address, create_app, trusted_networks
from engine.web.tokens import Signer
from tests.integration.portal_helpers import portal_config
from tests.integration.store_helpers import local, open_store
from tests.unit.test_loader_validation import problems, rule_with

NETS = trusted_networks(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No proxy trusted for this peer: its own address, whatever the header says.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        # One trusted proxy: the address it appended (the right-most).
        ("10.1.2.3", ["198.51.100.1"], "198.51.100.1"),
        # A client that wrote its own header: the proxy appended the real address.
        ("10.1.2.3", ["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
        # Two proxies (both trusted), the header split over two lines.
        ("10.1.2.3", ["198.51.100.1", "192.0.2.7"], "198.51.100.1"),
        # IPv6 client and proxy.
        ("2001:db8::5", ["2001:db8:ffff::1, 2400:cb00::7"], "2400:cb00::7"),
        # No header from the proxy: the proxy itself.
        ("10.1.2.3", [], "10.1.2.3"),
        # Garbage where an address should be: stop at the last trusted hop.
        ("10.1.2.3", ["198.51.100.1, not-an-ip"], "10.1.2.3"),
        # Every hop a trusted proxy: the farthest one.
        ("10.1.2.3", ["10.9.9.9, 192.0.2.7"], "10.9.9.9"),
        # Not an IP peer (Starlette's TestClient): as it is.
        ("testclient", ["198.51.100.1"], "testclient"),
    ],
)
def test_client_address(peer, forwarded, expected):
    assert client_address(peer, forwarded, NETS) == expected


def test_nothing_is_trusted_by_default():
    assert client_address("10.1.2.3", ["198.51.100.1"], ()) == "10.1.2.3"


def _portal(tmp_path, proxies):
    cfg = portal_config(tmp_path, web=WebSettings(base_url="http://portal.test"))
    cfg = replace(
        cfg, settings=replace(cfg.settings, web=replace(cfg.settings.web, trusted_proxies=proxies))
    )
    engine, sessions = open_store(cfg)
    now = local(2022, 7, 21, 9)
    with sessions() as s, s.begin():
        materialise(s, cfg, now)
    app = create_app(cfg, sessions, signer=Signer("k" * 48), clock=lambda: now, data_dir=tmp_path)
    return engine, sessions, app


def _ask(client, email: str, forwarded: str | None = None) -> int:
    form = client.get("/dang-nhap")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(
        "/dang-nhap", data={"email": email, "csrf": csrf}, headers=headers
    ).status_code


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(tmp_path):
    engine, sessions, app = _portal(tmp_path, ("10.0.0.0/8",))
    try:
        proxy = TestClient(app, base_url="http://portal.test", client=("10.0.0.2", 50000))
        # Ten sign-in requests per client address in 15 minutes (different addresses
        # asked, so the per-address limit of three does not come first).
        for n in range(10):
            assert _ask(proxy, f"x{n}@example.com", "198.51.100.1") == 200
        assert _ask(proxy, "y@example.com", "198.51.100.1") == 429
        # Another client behind the same proxy is not limited by the first ...
        assert _ask(proxy, "z@example.com", "198.51.100.2") == 200
        # ... and the first cannot escape by writing a header of its own.
        assert _ask(proxy, "w@example.com", "203.0.113.50, 198.51.100.1") == 429
        with sessions() as s:
            seen = dict(
                s.execute(
                    sa.select(signins.c.from_addr, sa.func.count()).group_by(signins.c.from_addr)
                ).all()
            )
        assert seen == {"198.51.100.1": 10, "198.51.100.2": 1}
    finally:
        engine.dispose()


def test_without_trusted_proxies_the_header_is_ignored(tmp_path):
    engine, sessions, app = _portal(tmp_path, ())
    try:
        direct = TestClient(app, base_url="http://portal.test", client=("203.0.113.9", 50000))
        for n in range(10):
            assert _ask(direct, f"x{n}@example.com", f"198.51.100.{n}") == 200
        assert _ask(direct, "y@example.com", "198.51.100.99") == 429
    finally:
        engine.dispose()


def test_a_bad_trusted_proxy_is_a_config_error_with_its_line(make_rule_tree):
    found = problems(
        make_rule_tree,
        {
            "rules/a.yaml": rule_with("{on: 2022-07-29}"),
            "config/settings.yaml": "web:\n  trusted_proxies:\n    - 10.0.0.0/8\n    - proxy.lan\n",
        },
    )
    assert [(p.file, p.line) for p in found] == [("config/settings.yaml", 4)]  # the item
    assert "'proxy.lan' is not an IP address or network" in found[0].message


def test_trusted_proxies_are_read(make_rule_tree):
    config, rules = make_rule_tree(
        {
            "rules/a.yaml": rule_with("{on: 2022-07-29}"),
            "config/settings.yaml": "web: {trusted_proxies: [127.0.0.1, 'fd00::/8']}\n",
        }
    )
    cfg = load_config(config, rules, env={})
    assert cfg.settings.web.trusted_proxies == ("127.0.0.1", "fd00::/8")
    assert trusted_networks(cfg.settings.web.trusted_proxies)[1] == ipaddress.ip_network("fd00::/8")

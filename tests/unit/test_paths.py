"""Where the database and the .eml files live: relative to the deployment, not the shell."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.loader.config import absolute_sqlite_url, load_config


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///var/hanchot.db", "sqlite:////srv/hanchot/var/hanchot.db"),
        ("sqlite:///../data/h.db", "sqlite:////srv/data/h.db"),
        ("sqlite+pysqlite:///var/h.db", "sqlite+pysqlite:////srv/hanchot/var/h.db"),
        ("sqlite:////abs/h.db", "sqlite:////abs/h.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("postgresql://u:p@db/h", "postgresql://u:p@db/h"),
        ("not a url", "not a url"),
    ],
)
def test_absolute_sqlite_url(url, expected):
    assert absolute_sqlite_url(url, Path("/srv/hanchot")) == expected


def test_settings_paths_are_relative_to_the_config_parent_from_any_directory(
    make_rule_tree, tmp_path, monkeypatch
):
    config, rules = make_rule_tree({"config/settings.yaml": "database: sqlite:///var/h.db\n"})
    root = Path.cwd()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    s = load_config(root / config, root / rules, env={}).settings
    assert s.database == f"sqlite:///{root}/var/h.db"
    assert s.mail_dir == str(root / "var" / "mail")


def test_database_url_from_the_environment_is_relative_to_the_current_directory(
    make_rule_tree, tmp_path, monkeypatch
):
    config, rules = make_rule_tree({})
    root = Path.cwd()
    monkeypatch.chdir(tmp_path)
    env = {"HANCHOT_DATABASE_URL": "sqlite:///thu-2022.db"}
    s = load_config(root / config, root / rules, env=env).settings
    assert s.database == f"sqlite:///{os.path.normpath(tmp_path / 'thu-2022.db')}"

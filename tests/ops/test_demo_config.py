"""The demo's config: made from the config the user names, wherever it lives."""

from __future__ import annotations

from pathlib import Path

import yaml

from local.demo import demo_config
from tests.support.paths import ROOT

FEED = "http://news.example.org:8080/news/feed"


def test_a_config_outside_the_project_gets_the_examples_three_networks(tmp_path: Path) -> None:
    # Given the project's config copied somewhere else, with its single X `account:`
    mine = tmp_path / "mine.yaml"
    mine.write_text((ROOT / "config" / "hookline.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    # When the demo makes its config from it
    made = yaml.safe_load(demo_config(FEED, mine).read_text(encoding="utf-8"))
    # Then it runs with every network the example configures, and only the demo's feed
    example = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text(encoding="utf-8"))
    assert made["accounts"] == example["accounts"]
    assert set(made["accounts"]) == {"x", "bluesky", "mastodon"}
    assert "account" not in made
    assert [feed["url"] for feed in made["feeds"]] == [FEED]


def test_a_config_that_names_its_accounts_keeps_them(tmp_path: Path) -> None:
    # Given a config whose accounts are only X
    data = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text(encoding="utf-8"))
    data["accounts"] = {"x": data["accounts"]["x"]}
    mine = tmp_path / "only-x.yaml"
    mine.write_text(yaml.safe_dump(data), encoding="utf-8")
    # When the demo makes its config from it
    made = yaml.safe_load(demo_config(FEED, mine).read_text(encoding="utf-8"))
    # Then the demo posts (dry-run) where that config says: X only
    assert list(made["accounts"]) == ["x"]

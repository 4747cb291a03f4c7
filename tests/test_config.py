"""The config file: validated before anything runs; every error names its field."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from hookline.config import ConfigError, load_config
from hookline.ops.cli import main
from tests.support.events import call, load
from tests.support.paths import ROOT


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("name", ["hookline.example.yaml", "hookline.yaml"])
def test_the_shipped_configs_are_valid_and_summarised_on_one_line(name):
    code, out, err = run("validate-config", str(ROOT / "config" / name))
    assert code == 0, err
    assert out.count("\n") == 1
    assert "OK: 3 feeds (2 own, 1 partner), 2 approvers, posting as @ExampleTrust" in out


def test_every_problem_is_reported_with_its_field_path_and_exit_2(tmp_path):
    # Given a config with several mistakes in different places
    broken = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text())
    broken["organisation"]["timezone"] = "Europe/Lodnon"
    broken["feeds"][1]["url"] = "ftp://www.example.org/events"
    broken["feeds"][2]["colour"] = "red"
    broken["pacing"]["daily_cap"] = -1
    del broken["accounts"]["x"]["user_id"]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))

    # When it is validated
    code, out, err = run("validate-config", str(path))

    # Then every error is listed with where it is, and nothing claims success
    assert code == 2
    assert out == ""
    assert "organisation.timezone: unknown timezone 'Europe/Lodnon'" in err
    assert "feeds[1].url: URL scheme should be 'http' or 'https'" in err
    assert "feeds[2].colour: Extra inputs are not permitted" in err
    assert "pacing.daily_cap: Input should be greater than or equal to 0" in err
    assert "accounts.x.user_id: Field required" in err
    assert "5 problem(s)" in err


def test_cross_field_mistakes_are_named(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text())
    data["feeds"][0]["rules"] = "publicatons"
    data["feeds"].append(dict(data["feeds"][1]))
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any("'publicatons', which is not in rule_sets" in p for p in caught.value.problems)


def test_a_partner_feed_must_name_the_partner(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text())
    del data["feeds"][2]["partner"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    code, _, err = run("validate-config", str(path))
    assert code == 2
    assert "feeds[2]: a partner feed needs 'partner'" in err


def test_unreadable_and_non_yaml_files_are_clear_errors(tmp_path):
    code, _, err = run("validate-config", str(tmp_path / "missing.yaml"))
    assert code == 2
    assert (
        err
        == f"hookline: no config file at {tmp_path / 'missing.yaml'}: pass --config FILE (or set HOOKLINE_CONFIG), or run from the repository's root, where config/hookline.yaml is\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation: [unclosed\n")
    code, _, err = run("validate-config", str(bad))
    assert code == 2
    assert "line 2" in err and "not valid YAML" in err


def test_export_writes_the_json_the_deployed_functions_read(tmp_path):
    target = tmp_path / "hookline.json"
    code, out, _ = run("export-config", str(ROOT / "config" / "hookline.yaml"), str(target))
    assert code == 0 and "valid" in out
    exported = load_config(target)
    assert exported == load_config(ROOT / "config" / "hookline.yaml")
    assert json.loads(target.read_text())["accounts"]["x"]["user_id"] == "1234567890"


def test_a_broken_config_stops_a_function_before_it_fetches_or_writes(lambda_env, web, dynamodb_local):
    # Given a deployed config with a typo, and a feed that would answer
    feed_url = web.add("/news.xml", b"<rss version='2.0'><channel><title>t</title></channel></rss>")
    lambda_env.write_config(feeds=[{"id": "news", "url": feed_url, "knd": "event"}])
    poll = lambda_env.handler("poll_feeds")

    # When the poll function runs, it refuses with the field named
    with pytest.raises(ConfigError) as caught:
        call(poll, load("poll_feeds"))
    assert "feeds[0].knd: Extra inputs are not permitted" in str(caught.value)

    # And it did nothing: no request to the feed, nothing in the table
    assert web.requests == []
    assert dynamodb_local.client().scan(TableName=lambda_env.table)["Items"] == []


def test_the_config_layer_build_validates_and_packages_json(tmp_path):
    makefile = (ROOT / "config" / "Makefile").read_text()
    assert "build-ConfigLayer:" in makefile
    assert "export-config hookline.yaml" in makefile
    template = (ROOT / "template.yaml").read_text()
    assert "HOOKLINE_CONFIG: /opt/hookline.json" in template
    assert Path(ROOT / "config" / "hookline.yaml").exists()

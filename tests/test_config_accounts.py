"""accounts: every corporate account hookline posts to (X, Bluesky, Mastodon), any subset."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from hookline.config import ConfigError, NoXAccount, load_config, parse_config
from hookline.ops.cli import main
from tests.support.paths import ROOT

EXAMPLE = ROOT / "config" / "hookline.example.yaml"


def example() -> dict:
    return yaml.safe_load(EXAMPLE.read_text())


def validate(tmp_path: Path, data: dict) -> tuple[int, str, str]:
    path = tmp_path / "hookline.yaml"
    path.write_text(yaml.safe_dump(data))
    out, err = io.StringIO(), io.StringIO()
    return main(["validate-config", str(path)], out=out, err=err), out.getvalue(), err.getvalue()


def test_the_example_configures_all_three_accounts_and_validate_config_names_each():
    config = load_config(EXAMPLE)
    assert config.networks == ["x", "bluesky", "mastodon"]
    assert config.accounts.bluesky.did == "did:plc:abcdefghijklmnopqrstuvwx"
    assert config.accounts.mastodon.visibility == "public"
    assert config.organisation.language == "en"

    out, err = io.StringIO(), io.StringIO()
    assert main(["validate-config", str(EXAMPLE)], out=out, err=err) == 0, err.getvalue()
    line = out.getvalue()
    assert "@ExampleTrust on X (user id 1234567890)" in line
    assert "@example-trust.bsky.social on Bluesky (did:plc:abcdefghijklmnopqrstuvwx)" in line
    assert "@ExampleTrust@mastodon.social on Mastodon (account id 109302525734356474)" in line


@pytest.mark.parametrize("keep", [["x"], ["bluesky"], ["mastodon"], ["bluesky", "mastodon"]])
def test_any_subset_of_accounts_is_a_valid_config(tmp_path, keep):
    data = example()
    data["accounts"] = {k: v for k, v in data["accounts"].items() if k in keep}
    code, _out, err = validate(tmp_path, data)
    assert code == 0, err
    assert load_config(tmp_path / "hookline.yaml").networks == keep


def test_a_config_without_x_has_no_x_account_to_post_to():
    data = example()
    del data["accounts"]["x"]
    config = parse_config(data)
    with pytest.raises(NoXAccount, match="no X account is configured"):
        config.account  # noqa: B018


def test_no_account_at_all_is_an_error_that_says_what_to_configure(tmp_path):
    data = example()
    data["accounts"] = {}
    code, out, err = validate(tmp_path, data)
    assert code == 2 and out == ""
    assert "accounts: configure at least one corporate account (x, bluesky or mastodon)" in err

    del data["accounts"]
    code, out, err = validate(tmp_path, data)
    assert code == 2
    assert "name the corporate accounts under `accounts:`" in err


def test_the_old_single_account_key_still_loads_as_the_x_account(tmp_path):
    # Given a config from before Bluesky and Mastodon, with `account:`
    data = example()
    del data["accounts"]
    data["account"] = {"handle": "ExampleTrust", "user_id": 1234567890}
    code, _out, err = validate(tmp_path, data)
    assert code == 0, err
    config = load_config(tmp_path / "hookline.yaml")
    assert config.networks == ["x"]
    assert config.account.user_id == "1234567890"


def test_both_account_and_accounts_is_an_error_saying_how_to_migrate(tmp_path):
    data = example()
    data["account"] = {"handle": "ExampleTrust", "user_id": "1"}
    code, _out, err = validate(tmp_path, data)
    assert code == 2
    assert "move `account:` under `accounts:` as `x:`" in err


def test_each_accounts_fields_are_checked_and_named(tmp_path):
    # Given mistakes in each network's account
    data = example()
    data["accounts"]["bluesky"]["did"] = "plc:abc"
    data["accounts"]["bluesky"]["handle"] = "not a handle"
    data["accounts"]["mastodon"]["server"] = "http://mastodon.social"
    data["accounts"]["mastodon"]["account_id"] = "@ExampleTrust"
    data["accounts"]["mastodon"]["visibility"] = "direct"
    del data["accounts"]["mastodon"]["acct"]
    data["organisation"]["language"] = "English"

    code, out, err = validate(tmp_path, data)

    # Then each is reported with its field, and nothing claims success
    assert code == 2 and out == ""
    for field in (
        "accounts.bluesky.did: String should match pattern",
        "accounts.bluesky.handle: String should match pattern",
        "accounts.mastodon.server: a Mastodon server is reached over https",
        "accounts.mastodon.account_id: String should match pattern",
        "accounts.mastodon.visibility: Input should be 'public', 'unlisted' or 'private'",
        "accounts.mastodon.acct: Field required",
        "organisation.language: String should match pattern",
    ):
        assert field in err
    assert "7 problem(s)" in err


def test_a_broken_account_is_a_config_error_not_a_crash():
    data = example()
    data["accounts"]["bluesky"] = "example-trust.bsky.social"
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert any(p.startswith("accounts.bluesky:") for p in caught.value.problems)

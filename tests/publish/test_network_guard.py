"""The corporate-account guard of the networks beside X: asked before a network's first post and
again every few hours (not on every run), and a mismatch raises the same alarm as X's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
import yaml

from hookline.config import parse_config
from hookline.models import State
from hookline.publish.account import ACCOUNT_CHECK_MAX_AGE
from hookline.publish.delivery import publish_networks
from hookline.publish.networks.mastodon import MastodonNetwork
from hookline.store import Move
from tests.conftest import NOW, base_config_data, reset_handlers
from tests.publish.test_publish_handler import metrics_of, run
from tests.support.drafts import add_draft
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake
from tests.support.publishing import approved, creates

VERIFY = "/api/v1/accounts/verify_credentials"


def mastodon_config():
    data = base_config_data()
    data.pop("account")
    data["accounts"] = {"mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT}}
    return parse_config(data)


def approve(store, clock, title):
    draft = add_draft(store, clock(), title=title)
    return store.transition(draft, Move(State.APPROVED, actor="alex@example.org", action="approve"))


def verifications(server: MastodonFake) -> int:
    return sum(1 for s in server.sent if s.path == VERIFY)


def test_the_guard_asks_before_the_first_post_and_again_only_after_a_few_hours(store, clock):
    config = mastodon_config()
    server = MastodonFake(clock=clock)
    networks = {
        "mastodon": MastodonNetwork(config.accounts.mastodon, lambda: TOKEN, http=server, clock=clock)
    }

    # A run with nothing to post asks the server nothing
    publish_networks(store, networks, config, clock())
    assert server.sent == []

    # Before the first post, the account is checked, then the status is made
    first = approve(store, clock, "First report published")
    publish_networks(store, networks, config, clock())
    assert [s.path for s in server.sent] == [VERIFY, "/api/v1/statuses"]

    # Within the check's age, later posts are not checked again
    clock.advance(hours=1)
    approve(store, clock, "Second report published")
    publish_networks(store, networks, config, clock())
    assert verifications(server) == 1 and len(server.creates()) == 2

    # After it, the next post is checked first
    clock.advance(seconds=(ACCOUNT_CHECK_MAX_AGE - timedelta(hours=1)).total_seconds() + 60)
    approve(store, clock, "Third report published")
    publish_networks(store, networks, config, clock())
    assert [s.path for s in server.sent[-2:]] == [VERIFY, "/api/v1/statuses"]
    assert verifications(server) == 2 and len(server.creates()) == 3
    assert store.delivery(first.id, "mastodon")["delivery_state"] == "PUBLISHED"

    # And when the token meanwhile came to belong to another account, the re-check holds Mastodon
    clock.advance(seconds=ACCOUNT_CHECK_MAX_AGE.total_seconds() + 60)
    server.account = {**server.account, "id": "999", "acct": "someone_else"}
    held = approve(store, clock, "Fourth report published")
    reports = publish_networks(store, networks, config, clock())
    assert len(server.creates()) == 3
    assert "someone_else" in (reports["mastodon"].held or "")
    assert store.delivery(held.id, "mastodon")["delivery_state"] == "APPROVED"


@pytest.fixture
def mastodon_beside_x(lambda_env, aws, clock, monkeypatch):
    """The deployed publisher with X and Mastodon, Mastodon's server intercepted at its pool."""
    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    lambda_env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    aws.secrets["hookline/mastodon"] = {"AWSCURRENT": json.dumps({"access_token": TOKEN})}
    server = MastodonFake(clock=lambda: NOW)
    monkeypatch.setattr("hookline.publish.networks.mastodon.pool", lambda: server)
    reset_handlers()
    return server


def test_a_mastodon_token_of_another_account_raises_the_alarm_and_x_still_posts(
    lambda_env, x_api, mastodon_beside_x, capsys
):
    # Given a Mastodon token that belongs to another account, and X's credentials that are right
    server = mastodon_beside_x
    server.account = {**server.account, "id": "999", "acct": "someone_else"}
    draft = approved(lambda_env.store(), "Report for two networks", at=NOW - timedelta(hours=1))

    # When the scheduled run comes
    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)

    # Then X posted, nothing reached Mastodon, and the account alarm's metric fired for Mastodon
    assert result["published"] == 1 and len(creates(x_api)) == 1
    assert server.creates() == []
    assert "someone_else" in result["networks"]["mastodon"]["held"]
    assert result["account_problem"] is None
    assert metrics_of(capsys.readouterr().out)["AccountCheckFailed"] == 1
    assert lambda_env.store().delivery(draft.id, "mastodon")["delivery_state"] == "APPROVED"


def test_a_network_that_is_only_paused_raises_no_account_alarm(lambda_env, x_api, mastodon_beside_x, capsys):
    store = lambda_env.store()
    approved(store, "Report while paused", at=NOW - timedelta(hours=1))
    store.set_pause(True, by="alex@example.org", reason="firestorm", now=NOW)
    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)
    assert result["networks"]["mastodon"]["held"] == "paused"
    assert metrics_of(capsys.readouterr().out)["AccountCheckFailed"] == 0


def test_x_held_for_another_account_does_not_hold_mastodon(lambda_env, x_api, mastodon_beside_x):
    # Given X's tokens belong to another account, Mastodon's to the corporate one
    x_api.user_id, x_api.username = "999999", "someone_else"
    draft = approved(lambda_env.store(), "Report while X is held", at=NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        result = run(lambda_env)

    # Then X posted nothing and is held, and Mastodon posted the draft once
    assert creates(x_api) == [] and "someone_else" in result["account_problem"]
    assert len(mastodon_beside_x.creates()) == 1
    assert lambda_env.store().delivery(draft.id, "mastodon")["delivery_state"] == "PUBLISHED"
    assert lambda_env.store().get_draft(draft.id).state is State.APPROVED


def test_mastodon_down_does_not_hold_or_repeat_x(lambda_env, x_api, mastodon_beside_x):
    # Given Mastodon answers every post with a 503
    server = mastodon_beside_x
    server.script("/api/v1/statuses", *[(503, {"error": "Service Unavailable"})] * 5)
    draft = approved(lambda_env.store(), "Report while Mastodon is down", at=NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        first = run(lambda_env)
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        run(lambda_env)

    # Then X posted once, and only once over both runs, while Mastodon's delivery waits to retry
    assert first["published"] == 1 and len(creates(x_api)) == 1
    assert lambda_env.store().get_draft(draft.id).state is State.PUBLISHED
    assert server.creates() and all(s.path == "/api/v1/statuses" for s in server.creates())
    assert lambda_env.store().delivery(draft.id, "mastodon")["delivery_state"] == "APPROVED"

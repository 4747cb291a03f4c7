"""Deliveries to Bluesky and Mastodon: one per (draft, network) in DynamoDB Local, each exactly
once, and one network's trouble never holds or repeats another's."""

from __future__ import annotations

from datetime import timedelta

import pytest
from urllib3.exceptions import ReadTimeoutError

from hookline.config import parse_config
from hookline.models import State
from hookline.publish.delivery import publish_networks, retry_delivery
from hookline.publish.networks.dryrun import DryRunNetwork
from hookline.publish.networks.mastodon import MastodonNetwork
from hookline.publish.networks.port import Identity
from hookline.store import Move, StateConflict
from tests.conftest import NOW, base_config_data
from tests.support.drafts import add_draft
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake
from tests.support.publishing import UNPACED

BLUESKY_DID = "did:plc:abcdefghijklmnopqrstuvwx"


@pytest.fixture
def config():
    data = base_config_data()
    data.pop("account")
    data.update(UNPACED)  # these tests are not about pacing (tests/publish/test_network_pacing.py is)
    data["accounts"] = {
        "bluesky": {"handle": "news-desk.bsky.social", "did": BLUESKY_DID},
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    return parse_config(data)


@pytest.fixture
def mastodon_server(clock):
    return MastodonFake(clock=clock)


@pytest.fixture
def networks(config, mastodon_server, clock):
    return {
        "bluesky": DryRunNetwork("bluesky", Identity(BLUESKY_DID, "news-desk.bsky.social")),
        "mastodon": MastodonNetwork(
            config.accounts.mastodon, lambda: TOKEN, http=mastodon_server, clock=clock
        ),
    }


def approved_draft(store, clock, title="River quality report published"):
    draft = add_draft(store, clock(), title=title)
    draft = store.transition(draft, Move(State.APPROVED, actor="alex@example.org", action="approve"))
    return draft


def test_an_approved_draft_goes_once_to_each_network(store, clock, config, networks, mastodon_server, capsys):
    # Given an approved draft
    draft = approved_draft(store, clock)

    # When the publisher runs twice
    first = publish_networks(store, networks, config, clock())
    clock.advance(minutes=5)
    second = publish_networks(store, networks, config, clock())

    # Then each network got the post once, and the second run posted nothing
    assert first["bluesky"].published == first["mastodon"].published == [draft.id]
    assert second["bluesky"].published == second["mastodon"].published == []
    assert len(mastodon_server.creates()) == 1
    assert capsys.readouterr().out.splitlines() == [f"DRY-RUN POST: [bluesky] {draft.text}"]
    # And each delivery says where it went
    deliveries = store.deliveries_of(draft.id)
    assert {n: d["delivery_state"] for n, d in deliveries.items()} == {
        "bluesky": "PUBLISHED",
        "mastodon": "PUBLISHED",
    }
    assert deliveries["mastodon"]["post_url"] == f"{SERVER}/@{ACCT}/{mastodon_server.statuses[0]['id']}"
    assert store.open_deliveries("mastodon") == store.open_deliveries("bluesky") == []


def test_one_network_refusing_the_post_leaves_the_other_published_and_offers_a_retry_of_that_one(
    store, clock, config, networks, mastodon_server
):
    # Given Mastodon refusing the post (its server's validation)
    draft = approved_draft(store, clock)
    mastodon_server.script(
        "/api/v1/statuses", (422, {"error": "Validation failed: Text character limit of 500 exceeded"})
    )

    # When the publisher runs
    reports = publish_networks(store, networks, config, clock())

    # Then Bluesky published and Mastodon failed with the server's message
    deliveries = store.deliveries_of(draft.id)
    assert deliveries["bluesky"]["delivery_state"] == "PUBLISHED"
    assert deliveries["mastodon"]["delivery_state"] == "FAILED"
    assert "Text character limit of 500 exceeded" in deliveries["mastodon"]["failure"]
    assert reports["mastodon"].failed == [draft.id]

    # When an approver retries Mastodon alone
    retry_delivery(store, draft.id, "mastodon", now=clock())
    clock.advance(minutes=5)
    publish_networks(store, networks, config, clock())

    # Then Mastodon published, and Bluesky was not posted again
    deliveries = store.deliveries_of(draft.id)
    assert deliveries["mastodon"]["delivery_state"] == "PUBLISHED"
    assert networks["bluesky"].posted == [draft.text]
    assert len(mastodon_server.statuses) == 1
    # And a retry of a delivery that is not FAILED is a conflict, changing nothing
    with pytest.raises(StateConflict):
        retry_delivery(store, draft.id, "bluesky", now=clock())


def test_a_rendition_carrying_a_mention_the_organisation_did_not_add_never_reaches_the_server(
    store, clock, config, networks, mastodon_server
):
    # Given an approved draft whose Mastodon rendition carries an injected mention (whatever
    # path put it there), while its Bluesky rendition is clean
    link = "https://www.example.org/news/river-quality?utm_source=mastodon"
    draft = add_draft(
        store,
        clock(),
        networks={
            "mastodon": {"text": f"River quality report, thanks @attacker@evil.example {link}", "link": link},
        },
    )
    store.transition(draft, Move(State.APPROVED, actor="alex@example.org", action="approve"))

    # When the publisher runs
    reports = publish_networks(store, networks, config, clock())

    # Then Mastodon was never asked to post, and the draft shows Mastodon FAILED with the reason
    assert mastodon_server.creates() == []
    assert mastodon_server.statuses == []
    mastodon = store.delivery(draft.id, "mastodon")
    assert mastodon["delivery_state"] == "FAILED"
    assert mastodon["failure"].startswith("not posted to mastodon: ")
    assert "the mention @attacker" in mastodon["failure"]
    assert "which the organisation's template did not add" in mastodon["failure"]
    assert reports["mastodon"].failed == [draft.id]
    # And Bluesky's clean rendition was posted as usual
    assert store.delivery(draft.id, "bluesky")["delivery_state"] == "PUBLISHED"
    assert networks["bluesky"].posted == [draft.text]


def test_a_lost_answer_is_retried_with_the_same_key_and_makes_one_status(
    store, clock, config, networks, mastodon_server
):
    # Given Mastodon made the status but its answer was lost
    draft = approved_draft(store, clock)
    mastodon_server.lose_answer_after_create = 1
    reports = publish_networks(store, networks, config, clock())
    delivery = store.delivery(draft.id, "mastodon")
    assert (delivery["delivery_state"], delivery["ambiguous"]) == ("APPROVED", True)
    assert reports["mastodon"].retrying == [draft.id]
    assert reports["bluesky"].published == [draft.id]  # not held by Mastodon's trouble

    # When the backoff has passed and the publisher runs again
    clock.advance(minutes=6)
    publish_networks(store, networks, config, clock())

    # Then the retry carried the same Idempotency-Key, and there is one status
    keys = [s.headers["Idempotency-Key"] for s in mastodon_server.creates()]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(mastodon_server.statuses) == 1
    assert store.delivery(draft.id, "mastodon")["delivery_state"] == "PUBLISHED"


def test_a_publisher_killed_mid_attempt_is_taken_over_after_its_lease(
    store, clock, config, networks, mastodon_server
):
    draft = approved_draft(store, clock)
    # Given a run that died after the server made the status (its lease left behind)
    mastodon_server.script("/api/v1/statuses", ReadTimeoutError(None, SERVER, "killed"))
    publish_networks(store, {"mastodon": networks["mastodon"]}, config, clock())
    delivery = store.delivery(draft.id, "mastodon")
    store.move_delivery(
        delivery,
        "PUBLISHING",
        now=clock(),
        changes={"attempt": {"id": "dead", "started_at": clock().isoformat()}},
    )

    # When a run comes while the lease is live, then after it
    clock.advance(minutes=1)
    publish_networks(store, networks, config, clock())
    assert store.delivery(draft.id, "mastodon")["delivery_state"] == "PUBLISHING"
    clock.advance(minutes=10)
    publish_networks(store, networks, config, clock())
    clock.advance(minutes=6)
    publish_networks(store, networks, config, clock())

    # Then it was taken over as ambiguous and posted exactly once
    assert store.delivery(draft.id, "mastodon")["delivery_state"] == "PUBLISHED"
    assert len(mastodon_server.statuses) == 1


def test_credentials_of_another_account_hold_that_network_only(
    store, clock, config, networks, mastodon_server
):
    # Given a Mastodon token that belongs to another account
    mastodon_server.account["id"] = "999"
    mastodon_server.account["acct"] = "someone_else"
    draft = approved_draft(store, clock)

    # When the publisher runs
    reports = publish_networks(store, networks, config, clock())

    # Then nothing went to Mastodon, the reason names both accounts, and Bluesky still posted
    assert mastodon_server.creates() == []
    assert "someone_else" in reports["mastodon"].held and ACCOUNT_ID in reports["mastodon"].held
    assert "someone_else" in store.get_control("HOLD#mastodon")["reason"]
    assert store.delivery(draft.id, "mastodon")["delivery_state"] == "APPROVED"
    assert reports["bluesky"].published == [draft.id]


def test_pause_holds_every_network_and_withdraw_stops_unpublished_deliveries(
    store, clock, config, networks, mastodon_server
):
    draft = approved_draft(store, clock)
    store.set_pause(True, by="alex@example.org", reason="firestorm", now=clock())
    reports = publish_networks(store, networks, config, clock())
    assert {n: r.held for n, r in reports.items()} == {"bluesky": "paused", "mastodon": "paused"}
    assert mastodon_server.creates() == [] and networks["bluesky"].posted == []

    # When the approver withdraws the draft while paused, and publishing resumes
    store.transition(
        store.get_draft(draft.id), Move(State.REJECTED, actor="alex@example.org", action="withdraw")
    )
    store.set_pause(False, by="alex@example.org", reason=None, now=clock())
    publish_networks(store, networks, config, clock() + timedelta(minutes=5))

    # Then neither network posts it
    assert mastodon_server.creates() == [] and networks["bluesky"].posted == []
    assert {n: d["delivery_state"] for n, d in store.deliveries_of(draft.id).items()} == {
        "bluesky": "FAILED",
        "mastodon": "FAILED",
    }


def test_the_dry_run_publisher_prints_one_line_per_network(lambda_env, capsys):
    import time_machine
    import yaml

    from tests.conftest import reset_handlers
    from tests.support.events import call, load
    from tests.support.publishing import approved

    # Given the functions' config with all three accounts, and the dry-run publisher
    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "news-desk.bsky.social", "did": BLUESKY_DID},
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    lambda_env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    lambda_env.monkeypatch.setenv("HOOKLINE_PUBLISHER", "dry-run")
    reset_handlers()
    draft = approved(lambda_env.store(), "Handler report", at=NOW - timedelta(hours=1))

    # When the scheduled run comes
    with time_machine.travel(NOW, tick=False):
        result = call(lambda_env.handler("publish"), load("publish"))

    # Then each network printed its post once, and the run's summary counts each
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("DRY-RUN POST:")]
    assert sorted(printed) == sorted(
        f"DRY-RUN POST: [{n}] {draft.text}" for n in ("x", "bluesky", "mastodon")
    )
    assert result["published"] == 1
    assert {n: r["published"] for n, r in result["networks"].items()} == {"bluesky": 1, "mastodon": 1}

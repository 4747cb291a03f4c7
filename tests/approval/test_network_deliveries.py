"""Each network's delivery on the review page, a Retry of one network alone, and an edit of
Bluesky's or Mastodon's words (issue 16): the approvals function over DynamoDB Local, with X,
Bluesky and Mastodon configured."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
import yaml

from hookline.clock import iso
from hookline.models import State
from hookline.store import Move
from tests.approval.test_approval import ALEX, AT, SAM, Api, text_of
from tests.approval.test_approval_reads import _allowed, _iam_actions
from tests.conftest import NOW
from tests.support.drafts import add_draft

BSKY_URL = "https://bsky.app/profile/example-trust.bsky.social/post/3kabc"
REFUSED = "422 Validation failed: Text character limit of 500 exceeded"
RETRY_MASTODON = '<input type="hidden" name="network" value="mastodon">'


@pytest.fixture
def api(lambda_env) -> Iterator[Api]:
    from tests.conftest import base_config_data, reset_handlers

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24},
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    lambda_env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    reset_handlers()
    with time_machine.travel(AT, tick=False):
        yield Api(lambda_env)


def published_on_x_failed_on_mastodon(api: Api) -> Any:
    """A draft X published, Bluesky published, and Mastodon refused, as the publisher leaves them."""
    draft = add_draft(api.store, NOW)
    assert api.decide(draft, "approve")["statusCode"] == 200
    claimed = api.store.transition(
        api.store.get_draft(draft.id), Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    api.store.transition(
        claimed,
        Move(
            State.PUBLISHED,
            actor="publisher",
            action="published",
            changes={"published_at": AT, "post_url": "https://x.com/exampletrust/status/1"},
        ),
    )
    for network, to, changes in (
        ("bluesky", "PUBLISHED", {"published_at": iso(AT), "post_url": BSKY_URL, "post_id": "3kabc"}),
        (
            "mastodon",
            "FAILED",
            {"failure": f"mastodon refused: {REFUSED}", "retries": 0},
        ),  # as the publisher says it
    ):
        delivery = api.store.delivery(draft.id, network)
        claimed_delivery = api.store.move_delivery(
            delivery, "PUBLISHING", now=AT, changes={"attempt": {"id": "a1"}}
        )
        api.store.move_delivery(claimed_delivery, to, now=AT, changes=changes, remove=["attempt"])
    return api.store.get_draft(draft.id)


def test_the_review_page_shows_each_networks_delivery_with_its_post_or_its_message(api):
    # Given X and Bluesky published the post and Mastodon refused it
    draft = published_on_x_failed_on_mastodon(api)

    # When an approver opens the draft
    page = api.review(draft, SAM)
    text = text_of(page)

    # Then each network says where it stands: X's and Bluesky's posts linked, Mastodon's message
    assert page["statusCode"] == 200
    assert "Posted on X" in text and "Posted on Bluesky" in text and "Not posted on Mastodon" in text
    assert f'<a href="{BSKY_URL}" rel="noopener noreferrer">See the post on Bluesky</a>' in page["body"]
    assert "Published on Bluesky Wed 25 Nov 2026, 10:05 GMT." in text
    assert f"Mastodon refused this post: {REFUSED}" in text
    # and Retry is offered for Mastodon alone
    assert page["body"].count('value="retry">Retry on') == 1
    assert RETRY_MASTODON in page["body"]
    assert 'value="retry">Retry on Mastodon</button>' in page["body"]
    # and a view-only link shows the states without the button
    view_only = api.get(f"/drafts/{draft.id}?token={quote(api.links.view_token(draft))}")
    assert f"Mastodon refused this post: {REFUSED}" in text_of(view_only)
    assert "Retry on Mastodon" not in view_only["body"]


def test_a_network_held_for_its_account_and_one_still_waiting_are_told_apart(api):
    # Given an approved draft whose Bluesky account check failed (that network alone is held)
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")
    api.store.put_control(
        "HOLD#bluesky",
        {
            "kind": "account",
            "reason": "the Bluesky session is did:plc:other, not the corporate account",
            "at": iso(AT),
        },
    )

    # When the draft is opened
    text = text_of(api.review(draft, SAM))

    # Then Bluesky says why it is held, and Mastodon that it waits
    assert "Held on Bluesky: the Bluesky session is did:plc:other, not the corporate account." in text
    assert "Waiting to go out on Mastodon." in text
    assert "Retry on" not in text


def test_a_withdrawn_approval_says_nothing_goes_to_the_other_networks(api):
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")
    api.decide(draft, "withdraw")
    text = text_of(api.review(draft, SAM))
    assert "Not posted on Bluesky" in text and "Nothing goes to Bluesky." in text
    assert "Nothing goes to Mastodon." in text and "Waiting to go out" not in text


def test_retrying_one_network_moves_only_its_delivery_and_says_who(api, lambda_env):
    # Given Mastodon refused a post X and Bluesky published
    draft = published_on_x_failed_on_mastodon(api)
    bluesky_before = api.store.delivery(draft.id, "bluesky")
    seen: set[str] = set()
    lambda_env.handler("approvals").services().store.client.meta.events.register(
        "before-parameter-build.dynamodb.*",
        lambda model, params, **_: seen.update(_iam_actions(model.name, params)),
    )

    # When Sam presses Retry on Mastodon
    page = api.decide(draft, "retry", who=SAM, network="mastodon")

    # Then the page says so and shows Mastodon waiting again
    assert page["statusCode"] == 200
    text = text_of(page)
    assert "Publishing to Mastodon will be retried: it goes out within minutes." in text
    assert "Waiting to go out on Mastodon." in text
    assert "Retry on Mastodon" not in text
    # and only Mastodon's delivery moved, back to APPROVED without its failure, open again
    mastodon = api.store.delivery(draft.id, "mastodon")
    assert (mastodon["delivery_state"], mastodon.get("failure"), mastodon["retries"]) == ("APPROVED", None, 0)
    assert mastodon["retried_by"] == "Sam Patel"
    assert api.store.open_deliveries("mastodon") == [draft.id]
    assert api.store.delivery(draft.id, "bluesky") == bluesky_before
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.version) == (State.PUBLISHED, draft.version)
    # and the history says who retried which network
    last = api.store.audit(draft.id)[-1]
    assert (last.action, last.actor, last.from_state, last.to_state) == (
        "retry mastodon",
        "Sam Patel <sam@example.org>",
        State.PUBLISHED,
        State.PUBLISHED,
    )
    assert "retry mastodon" in text
    # and the function's IAM policy allows every request it made
    assert seen and seen <= _allowed("ApprovalsFunction")


def test_a_second_press_of_a_network_retry_is_refused_and_changes_nothing(api):
    draft = published_on_x_failed_on_mastodon(api)
    assert api.decide(draft, "retry", network="mastodon")["statusCode"] == 200
    after_first = api.store.delivery(draft.id, "mastodon")
    history = api.store.audit(draft.id)

    # When the same button is pressed again (a stale page, or another approver)
    again = api.decide(draft, "retry", who=SAM, network="mastodon")

    # Then it is refused with where the delivery stands, and nothing changed
    assert again["statusCode"] == 409
    assert "The post to Mastodon is waiting to go out now, so it cannot be retried." in text_of(again)
    assert api.store.delivery(draft.id, "mastodon") == after_first
    assert api.store.audit(draft.id) == history


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            {"network": "bluesky", "action": "retry"},
            409,
            "The post to Bluesky is published now, so it cannot be retried.",
        ),
        ({"network": "linkedin", "action": "retry"}, 400, "there is no 'linkedin' delivery to retry"),
        ({"network": "mastodon"}, 400, "No decision was made: the form arrived without a button press."),
    ],
)
def test_a_retry_of_a_network_that_did_not_fail_or_without_a_press_changes_nothing(
    api, fields, status, message
):
    draft = published_on_x_failed_on_mastodon(api)
    before = api.store.deliveries_of(draft.id)
    action = fields.pop("action", None)
    page = api.decide(draft, action, **fields)
    assert page["statusCode"] == status
    assert message in text_of(page)
    assert api.store.deliveries_of(draft.id) == before


def test_a_view_only_link_cannot_retry_a_network(api):
    draft = published_on_x_failed_on_mastodon(api)
    form = {"token": api.links.view_token(draft), "action": "retry", "network": "mastodon"}
    page = api.post(f"/drafts/{draft.id}", form)
    assert page["statusCode"] == 403
    assert api.store.delivery(draft.id, "mastodon")["delivery_state"] == "FAILED"


def test_x_retry_stays_the_drafts_own(api):
    # Given a post X refused while Bluesky and Mastodon wait
    draft = add_draft(api.store, NOW)
    api.decide(draft, "approve")
    claimed = api.store.transition(
        api.store.get_draft(draft.id), Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    api.store.transition(
        claimed, Move(State.FAILED, actor="publisher", action="failed", changes={"failure": "403"})
    )

    # When Alex retries with network=x (or without network, as before)
    page = api.decide(draft, "retry", who=ALEX, network="x")

    # Then the draft itself is approved again
    assert page["statusCode"] == 200
    assert api.store.get_draft(draft.id).state is State.APPROVED
    assert timedelta(0) <= api.store.get_draft(draft.id).approved_at - AT <= timedelta(seconds=1)


# -- editing Bluesky's and Mastodon's words ----------------------------------------------------


def test_an_approver_edits_blueskys_words_and_only_that_post_changes(api):
    # Given a draft waiting, each network's edit box on the page
    draft = add_draft(api.store, NOW)
    page = api.review(draft)
    assert 'name="hook_bluesky"' in page["body"] and 'name="hook_mastodon"' in page["body"]
    assert "Edit the words for Bluesky" in text_of(page)

    # When Alex rewrites Bluesky's words and approves
    words = "River data, three years on: how clean are the Fens?"
    result = api.decide(
        draft, "approve", hook_bluesky=f"  {words}  ", hook_mastodon=draft.text.split(" http")[0]
    )

    # Then Bluesky's post is the new words with the link kept, and it is what its delivery sends
    assert result["statusCode"] == 200
    stored = api.store.get_draft(draft.id)
    expected = f"{words} {draft.post_link}"
    assert stored.networks["bluesky"]["text"] == expected
    assert stored.networks["bluesky"]["length"] == len(expected)
    assert stored.networks["bluesky"]["edited_by"] == "Alex Morgan"
    assert api.store.delivery(draft.id, "bluesky")["text"] == expected
    assert "Goes out on Bluesky" in text_of(result) and expected in text_of(result)
    # and X's and Mastodon's posts are as composed
    assert stored.text == draft.text
    assert "mastodon" not in stored.networks
    assert api.store.delivery(draft.id, "mastodon")["text"] == draft.text
    assert [a.action for a in api.store.audit(draft.id)] == ["queued", "edit and approve"]
    # and the page names who edited Bluesky's words
    assert "Edited by Alex Morgan at" in text_of(api.review(stored))


def test_the_whole_mastodon_post_is_accepted_in_text_mastodon_as_the_contract_names_it(api):
    draft = add_draft(api.store, NOW)
    edited = f"For Mastodon: the Fens rivers report {draft.post_link}"

    page = api.decide(draft, "approve", text_mastodon=edited)

    assert page["statusCode"] == 200
    stored = api.store.get_draft(draft.id)
    assert (stored.networks["mastodon"]["text"], stored.networks["mastodon"]["length"]) == (
        edited,
        len("For Mastodon: the Fens rivers report ") + 23,
    )
    assert api.store.delivery(draft.id, "mastodon")["text"] == edited
    assert stored.text == draft.text and "bluesky" not in stored.networks


@pytest.mark.parametrize(
    ("network", "words", "message"),
    [
        pytest.param(
            "bluesky",
            "a" * 210,
            "The edited post for Bluesky is 306 characters as Bluesky counts them; the most is 300. Shorten it by 6.",
            id="over bluesky's 300 graphemes, the whole link counted",
        ),
        pytest.param(
            "mastodon",
            "b" * 480,
            "The edited post for Mastodon is 504 characters as Mastodon counts them; the most is 500. Shorten it by 4.",
            id="over mastodon's 500, the link counted 23",
        ),
        pytest.param(
            "mastodon",
            "Thanks @someone",
            "The edited post for Mastodon cannot be posted: the post would carry the mention @someone",
            id="a mention the template did not add",
        ),
        pytest.param("bluesky", "   ", "The edited post for Bluesky is empty", id="empty"),
    ],
)
def test_an_edit_of_another_network_that_cannot_be_posted_is_refused_with_the_words_kept(
    api, network, words, message
):
    draft = add_draft(api.store, NOW)

    page = api.decide(draft, "approve", **{f"hook_{network}": words})

    # Then the page says what to fix, keeps the typed words in that network's box, and nothing changed
    assert page["statusCode"] == 422
    assert message in text_of(page)
    if words.strip():
        box = f'name="hook_{network}" data-hook aria-describedby="left-{network} fixed-{network}" maxlength="2000" rows="2">{html.escape(words, quote=False)}</textarea>'
        assert box in page["body"]
    stored = api.store.get_draft(draft.id)
    assert (stored.state, stored.version, stored.networks) == (State.PENDING, draft.version, draft.networks)
    assert api.store.deliveries_of(draft.id) == {}

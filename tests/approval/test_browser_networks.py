"""Bluesky's and Mastodon's posts on the review page in a real browser (headless Chromium,
Playwright), issue 16: an approver edits Bluesky's words with its own live count, and retries
the one network that refused a post; the pages pass axe-core's WCAG 2.2 AA rules."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from hookline.models import State
from hookline.store import Move
from tests.approval import test_browser_review as browser
from tests.approval.test_browser_review import AT, CONFIGURED, axe_violations
from tests.conftest import NOW, base_config_data, reset_handlers
from tests.support.drafts import add_draft
from tests.support.x import RECORDED_ME

pytestmark = pytest.mark.browser

# The browser review page's own fixtures: the approvals function behind the bridge, and a phone.
site = browser.site
phone = browser.phone
REFUSED = "422 Validation failed: Text character limit of 500 exceeded"


def three_networks(lambda_env: Any) -> None:
    data = base_config_data()
    data.pop("account")
    data["accounts"] = {
        "x": {"handle": CONFIGURED, "user_id": RECORDED_ME["id"]},
        "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24},
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    lambda_env.config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    reset_handlers()


def test_an_approver_edits_blueskys_words_with_its_own_live_count_and_it_is_what_bluesky_gets(
    site, phone, lambda_env
):
    # Given X, Bluesky and Mastodon configured and a draft waiting
    three_networks(lambda_env)
    draft = add_draft(site.store, NOW)
    assert phone.goto(site.review_url(draft)).status == 200

    # When Alex rewrites Bluesky's words
    words = "Three years of river data: how clean are the Fens?"
    box = phone.get_by_label("Edit the words for Bluesky")
    box.fill("")
    box.press_sequentially(words)

    # Then Bluesky's preview and count follow (graphemes, the whole link counted), X's do not
    expected = f"{words} {draft.post_link}"
    assert phone.locator("#preview-bluesky").text_content() == expected
    assert phone.locator("#left-bluesky").inner_text() == f"{300 - len(expected)} characters left"
    assert phone.locator("#preview-x").text_content() == draft.text
    assert phone.locator("#preview-mastodon").text_content() == draft.text

    # When Alex approves
    phone.locator("button[value='approve']").click()
    phone.wait_for_load_state()

    # Then the result page shows Bluesky's post as edited, and that is what its delivery holds
    assert phone.locator("#preview-bluesky").text_content() == expected
    assert site.store.get_draft(draft.id).state is State.APPROVED
    assert site.store.delivery(draft.id, "bluesky")["text"] == expected
    assert site.store.delivery(draft.id, "mastodon")["text"] == draft.text
    assert phone.dialogs == [] and browser.violations(phone) == []


def test_a_network_that_refused_the_post_is_retried_alone_from_the_page(site, phone, lambda_env, chromium):
    # Given X published a post and Mastodon refused it
    three_networks(lambda_env)
    draft = add_draft(site.store, NOW)
    site.store.transition(
        draft,
        Move(State.APPROVED, actor="Alex Morgan <alex@example.org>", action="approve",
             changes={"approved_at": NOW, "decided_by": "Alex Morgan", "decided_at": NOW}),
    )  # fmt: skip
    approved = site.store.get_draft(draft.id)
    claimed = site.store.transition(
        approved, Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    site.store.transition(
        claimed,
        Move(State.PUBLISHED, actor="publisher", action="published",
             changes={"published_at": AT, "post_url": "https://x.com/ExampleTrust/status/1"}),
    )  # fmt: skip
    for network in ("bluesky", "mastodon"):
        site.store.create_delivery(draft.id, network, {"text": draft.text, "retries": 0}, now=NOW)
    delivery = site.store.delivery(draft.id, "mastodon")
    delivery = site.store.move_delivery(delivery, "PUBLISHING", now=NOW, changes={"attempt": {"id": "a1"}})
    site.store.move_delivery(delivery, "FAILED", now=NOW, changes={"failure": REFUSED}, remove=["attempt"])

    # When Sam opens the draft on a phone
    url = site.review_url(draft, "sam@example.org")
    assert phone.goto(url).status == 200

    # Then Mastodon's message and its own Retry are shown, Bluesky waits, X links its post
    assert phone.get_by_text(f"Mastodon refused this post: {REFUSED}").is_visible()
    assert phone.get_by_text("Waiting to go out on Bluesky.").is_visible()
    assert phone.get_by_role("link", name="See the post on X").get_attribute("href") == (
        "https://x.com/ExampleTrust/status/1"
    )
    retry = phone.get_by_role("button", name="Retry on Mastodon")
    assert retry.is_visible()
    assert phone.get_by_role("button", name="Retry on Bluesky").count() == 0
    assert axe_violations(chromium, url) == []

    # When Sam presses it
    retry.click()
    phone.wait_for_load_state()

    # Then the page says it is retried, Mastodon waits again, and only its delivery moved
    assert phone.get_by_text(
        "Publishing to Mastodon will be retried: it goes out within minutes."
    ).is_visible()
    assert phone.get_by_text("Waiting to go out on Mastodon.").is_visible()
    assert phone.get_by_role("button", name="Retry on Mastodon").count() == 0
    mastodon = site.store.delivery(draft.id, "mastodon")
    assert (mastodon["delivery_state"], mastodon.get("failure"), mastodon["retried_by"]) == (
        "APPROVED",
        None,
        "Sam Patel",
    )
    assert site.store.delivery(draft.id, "bluesky")["delivery_state"] == "APPROVED"
    assert site.store.get_draft(draft.id).state is State.PUBLISHED
    assert site.store.audit(draft.id)[-1].action == "retry mastodon"
    assert phone.dialogs == [] and browser.violations(phone) == []

"""The whole pipeline through the three handlers: served feed -> draft -> approval link -> X."""

from __future__ import annotations

import json
import re

import time_machine

from hookline import weighted_length
from hookline.models import State
from tests.conftest import NOW
from tests.support.events import api_event, call, load
from tests.support.feeds import Item, page, rss


def test_a_new_entry_goes_from_the_feed_to_published_on_the_corporate_account(lambda_env, web, aws, x_api):
    # Given a feed the deployment has never seen, with one old entry
    old = Item("Annual report 2025: what we achieved", "annual-report-2025")
    web.add("/news.xml", rss(web.base_url, [old], NOW))
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    lambda_env.write_config(feeds=[{"id": "news", "url": web.url("/news.xml")}])
    poll, approvals, publish = (lambda_env.handler(n) for n in ("poll_feeds", "approvals", "publish"))
    store = lambda_env.store()

    with time_machine.travel(NOW, tick=True):
        # When it is polled the first time, its history is baselined, not drafted
        first = call(poll, load("poll_feeds"))
        assert first["drafted"] == 0
        assert store.drafts_in(State.PENDING) == []

        # And when a significant new entry appears
        new = Item("New research report: river quality in the Fens", "river-quality")
        web.add("/news.xml", rss(web.base_url, [new, old], NOW))
        web.add("/news/river-quality", page(new.title))
        second = call(poll, load("poll_feeds"))

    # Then it is one pending draft with hook + link, UTM-tagged as the organisation's own link
    assert second["drafted"] == 1
    [draft] = store.drafts_in(State.PENDING)
    link = web.url("/news/river-quality") + "?utm_source=x&utm_medium=social&utm_campaign=hookline"
    assert draft.text == f"{new.title} {link}"
    # (an IP-address link is not shortened by X, so it counts in full here; weighted_length knows)
    assert draft.weighted_length == weighted_length(draft.text) <= 280
    assert draft.reason == "category 'Report' matched 'Report' (rule 'publications')"

    # And each approver got a personal link by email; the shared topic got a view-only link
    emails = aws.of("SendEmail")
    assert sorted(e.params["Destination"]["ToAddresses"][0] for e in emails) == [
        "alex@example.org",
        "sam@example.org",
    ]
    alex = next(e for e in emails if e.params["Destination"]["ToAddresses"] == ["alex@example.org"])
    text_part = alex.params["Content"]["Simple"]["Body"]["Text"]["Data"]
    review_url = re.search(r"https://approve\.example\.org/drafts/\S+", text_part).group(0)
    assert review_url.startswith(f"https://approve.example.org/drafts/{draft.id}?token=")
    [sns] = aws.of("Publish")
    assert f"/drafts/{draft.id}?token=" in sns.params["Message"]
    assert (
        review_url.split("token=")[1] not in sns.params["Message"]
    )  # never a deciding token on a shared channel

    with time_machine.travel(NOW.replace(minute=5), tick=True):
        # When the approver opens the link, the page shows the post and changes nothing
        audit_before = store.audit(draft.id)
        shown = call(approvals, api_event("GET", review_url))
        assert shown["statusCode"] == 200
        assert "river quality in the Fens" in shown["body"]
        assert store.get_draft(draft.id).state is State.PENDING
        assert store.audit(draft.id) == audit_before

        # And approves with one click
        token = review_url.split("token=")[1]
        decided = call(
            approvals, api_event("POST", f"/drafts/{draft.id}", {"token": token, "action": "approve"})
        )
        assert decided["statusCode"] == 200
        assert "Approved" in decided["body"]
        assert store.get_draft(draft.id).decided_by == "Alex Morgan"

        # Then the publish run posts exactly that text, as the corporate account
        result = call(publish, load("publish"))

    assert result["published"] == 1
    assert [s.url for s in x_api.sent] == [
        "https://api.twitter.com/2/users/me",
        "https://api.twitter.com/2/tweets",
    ]
    assert x_api.sent[1].body == {"text": draft.text}
    assert x_api.sent[1].headers["Authorization"].startswith("OAuth ")
    assert 'oauth_consumer_key="ck-test"' in x_api.sent[1].headers["Authorization"]
    published = store.get_draft(draft.id)
    assert published.state is State.PUBLISHED
    assert published.post_url == f"https://x.com/TweepyDev/status/{published.post_id}"

    # And running everything again posts nothing twice
    with time_machine.travel(NOW.replace(hour=12), tick=True):
        assert call(poll, load("poll_feeds"))["drafted"] == 0
        assert call(publish, load("publish"))["published"] == 0
    assert len(x_api.posts) == 1
    assert json.dumps(x_api.posts).count("river quality") == 1

"""Just before posting: the link is checked again, and an event's "tomorrow" becomes "today"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hookline.compose import compose
from hookline.models import Draft, Entry, EventData, EventInfo, State
from hookline.poll.fetch import Fetcher, FetchLimits
from hookline.poll.linkcheck import preflight
from hookline.poll.netguard import Guard, HostMap
from tests.conftest import NOW, make_config
from tests.support.feeds import page
from tests.support.publishing import UNPACED, Publisher, approved


@pytest.fixture
def config():
    return make_config(**UNPACED)


def checker(config):
    # www.example.org is the web fixture's loopback server here: a link X counts as a link
    guard = Guard(resolver=HostMap({"www.example.org": ["127.0.0.1"]}), allow_private=True)
    fetcher = Fetcher(FetchLimits(total_timeout=5), guard=guard)
    return lambda url: preflight(fetcher, url, config.organisation.tz)


def event_draft(store, config, *, composed_at, start) -> Draft:
    """An own event drafted at `composed_at` by the real composer, then approved."""
    entry = Entry(
        feed_id="news",
        identity="evt-1",
        title="Open evening on the river report",
        link="https://www.example.org/events/open-evening",
        event=EventInfo(start=start, venue="Guildhall, Cambridge"),
    )
    composed = compose(entry, config.feed("news"), config, composed_at)
    draft = Draft(
        id=entry.key,
        feed_id="news",
        state=State.APPROVED,
        kind="event",
        title=entry.title,
        link=entry.link,
        post_link=composed.link,
        text=composed.text,
        composed_text=composed.text,
        weighted_length=composed.weighted_length,
        reason="an event",
        created_at=composed_at,
        state_at=composed_at,
        approved_at=composed_at,
        decided_by="Alex Morgan",
        decided_at=composed_at,
        expires_at=start,
        event=EventData(start=start, venue="Guildhall, Cambridge"),
    )
    assert store.create_draft(draft)
    return draft


def test_an_event_approved_yesterday_as_tomorrow_goes_out_as_today(store, config, clock, x_api):
    # Given an event at 18:00 today, drafted and approved yesterday morning ("tomorrow, 18:00")
    start = NOW.replace(hour=18)
    draft = event_draft(store, config, composed_at=NOW - timedelta(days=1), start=start)
    assert "tomorrow, 18:00" in draft.text

    # When it is published this morning
    Publisher(store, config, clock).run()

    # Then the post says today, and the draft records the text that was sent
    [sent] = x_api.created
    assert "today, 18:00" in sent
    assert "tomorrow" not in sent
    assert store.get_draft(draft.id).text == sent


def test_a_retry_after_an_ambiguous_attempt_sends_the_same_text_even_across_midnight(
    store, config, clock, x_api
):
    # Given an event tomorrow evening whose first attempt at 23:50 lost X's answer
    start = (NOW + timedelta(days=1)).replace(hour=18)
    clock.now = NOW.replace(hour=9)
    draft = event_draft(store, config, composed_at=clock.now, start=start)
    window = {
        "pacing": {
            **UNPACED["pacing"],
            "window": {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "00:00", "end": "23:59:59"},
        }
    }
    config = make_config(**window)
    clock.now = NOW.replace(hour=23, minute=50)
    x_api.then("timeout")
    Publisher(store, config, clock).run()
    first = x_api.posts[0]
    assert "tomorrow, 18:00" in first

    # When the retry runs after midnight
    clock.now = NOW.replace(hour=23, minute=50) + timedelta(minutes=30)
    Publisher(store, config, clock).run()

    # Then it sent exactly the same text, so X could tell it was a duplicate of the first
    assert x_api.posts == [first, first]
    assert store.get_draft(draft.id).state is State.PUBLISHED


def test_the_link_is_checked_again_just_before_posting_and_a_broken_page_is_a_warning_not_a_block(
    store, config, clock, x_api, web
):
    # Given an approved draft whose page has gone since the approver saw it
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    draft = approved(store, "Report on the Fens", at=NOW - timedelta(hours=1))
    gone = web.url("/gone").replace("127.0.0.1", "www.example.org")
    store.client.update_item(
        TableName=store.table,
        Key={"pk": {"S": f"DRAFT#{draft.id}"}, "sk": {"S": "DRAFT"}},
        UpdateExpression="SET post_link = :l, #text = :t",
        ExpressionAttributeNames={"#text": "text"},
        ExpressionAttributeValues={":l": {"S": gone}, ":t": {"S": f"Report on the Fens {gone}"}},
    )

    # When it is published
    Publisher(store, config, clock).run(check_link=checker(config))

    # Then it was posted (the approver decided), and the draft says what the check found
    assert len(x_api.created) == 1
    done = store.get_draft(draft.id)
    assert done.state is State.PUBLISHED
    assert done.preflight["when"] == "just before publishing"
    assert any("404" in w for w in done.preflight["warnings"])
    assert web.requests_for("/gone")


def test_a_healthy_page_is_recorded_as_checked_before_posting(store, config, clock, x_api, web):
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    web.add("/news/report", page("Report"))
    draft = approved(store, "Report", at=NOW - timedelta(hours=1))
    store.client.update_item(
        TableName=store.table,
        Key={"pk": {"S": f"DRAFT#{draft.id}"}, "sk": {"S": "DRAFT"}},
        UpdateExpression="SET post_link = :l",
        ExpressionAttributeValues={":l": {"S": web.url("/news/report")}},
    )
    Publisher(store, config, clock).run(check_link=checker(config))
    done = store.get_draft(draft.id)
    assert done.preflight["ok"] is True
    assert done.preflight["warnings"] == []

"""Skipped, but not lost: an approver drafts a skipped entry from the queue page.

End to end against DynamoDB Local and a real local web server: the poll skips an entry and
keeps it; the queue page lists it with Draft this; the press is recorded once (a scanner's
submit changes nothing, a second press is 409) and handed to the poll function by an
asynchronous Lambda invocation (intercepted at botocore's transport, then delivered to the
poll handler as Lambda would); the poll function composes it as a poll would; the draft is
approved and published like any other. Then the same in Chromium, on a phone.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import time_machine

from hookline.models import State
from local.bridge import Bridge
from tests.approval.test_browser_review import axe_violations
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import signer
from tests.support.events import api_event, call, load
from tests.support.feeds import Item, page, rss

POLL_FUNCTION = "hookline-PollFeedsFunction-AbC123"
OLD = Item("Annual report 2025: what we achieved", "annual-report-2025")
# Skipped by the test config's rules (no include term matches): the kind of entry a person
# would still want to post.
WALK = Item("Guided walk along the restored river banks", "river-walk", category="Nature")


def skipped_entry(lambda_env: Any, web: Any) -> Any:
    """A deployment that polled a feed twice: history, then one new entry the rules skipped."""
    lambda_env.monkeypatch.setenv("HOOKLINE_POLL_FUNCTION", POLL_FUNCTION)
    web.add("/news.xml", rss(web.base_url, [OLD], NOW))
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    lambda_env.write_config(feeds=[{"id": "news", "url": web.url("/news.xml")}])
    poll = lambda_env.handler("poll_feeds")
    call(poll, load("poll_feeds"))
    web.add("/news.xml", rss(web.base_url, [WALK, OLD], NOW))
    web.add(f"/news/{WALK.slug}", page(WALK.title))
    summary = call(poll, load("poll_feeds"))
    assert (summary["drafted"], summary["skipped"]) == (0, 1)
    return poll


def queue_token(email: str = "alex@example.org") -> str:
    return signer(SIGNING_KEY).queue_token(email)


def test_a_skipped_entry_is_drafted_by_hand_from_the_queue_page_then_approved_and_published(
    lambda_env, web, aws, x_api
):
    store = lambda_env.store()
    approvals, publish = lambda_env.handler("approvals"), lambda_env.handler("publish")
    with time_machine.travel(NOW, tick=True):
        poll = skipped_entry(lambda_env, web)
        token = queue_token()

        # When Alex opens the queue page
        queue = call(approvals, api_event("GET", f"/queue?token={quote(token)}"))

        # Then the skipped entry is listed with its feed, the rules' reason, its link and Draft this
        body = queue["body"]
        assert queue["statusCode"] == 200
        assert "Skipped by the rules (1)" in body
        assert WALK.title in body
        assert "no category or keyword of rule &#39;publications&#39; matched" in body
        assert f'href="{web.url("/news/" + WALK.slug)}"' in body
        [action] = re.findall(r'action="https://approve\.example\.org(/skips/news/[0-9a-f]+)"', body)
        assert '<button class="secondary" type="submit" name="action" value="draft"' in body

        # When a mail scanner submits the form without pressing the button, nothing changes
        scanned = call(approvals, api_event("POST", action, {"token": token}))
        assert scanned["statusCode"] == 400
        assert aws.of("Invoke") == []
        # And a tampered token cannot ask for anything
        forged = call(approvals, api_event("POST", action, {"token": token[:-2] + "xx", "action": "draft"}))
        assert forged["statusCode"] == 403

        # When Alex presses Draft this
        emails_before = len(aws.of("SendEmail"))
        pressed = call(approvals, api_event("POST", action, {"token": token, "action": "draft"}))

        # Then the page says it is being drafted, and the poll function was invoked asynchronously
        # with exactly the entry and who asked
        assert pressed["statusCode"] == 200
        assert "is being drafted" in pressed["body"]
        assert "Being drafted (asked by Alex Morgan)" in pressed["body"]
        [invoked] = aws.of("Invoke")
        key = action.rsplit("/", 1)[1]
        assert invoked.params == {
            "FunctionName": POLL_FUNCTION,
            "InvocationType": "Event",
            "Payload": {"action": "draft-skip", "feed_id": "news", "key": key, "by": "Alex Morgan"},
        }

        # And a second press (Sam's, or Alex's again) is refused: it is drafted once
        again = call(
            approvals, api_event("POST", action, {"token": queue_token("sam@example.org"), "action": "draft"})
        )
        assert again["statusCode"] == 409
        assert "Alex Morgan already asked for this entry to be drafted" in again["body"]
        assert len(aws.of("Invoke")) == 1

        # When Lambda delivers the event to the poll function
        result = call(poll, invoked.params["Payload"])

    # Then the entry is a pending draft, composed as the poll composes (UTM-tagged link, page checked)
    [draft] = store.drafts_in(State.PENDING)
    assert result == {"drafted": draft.id}
    link = web.url(f"/news/{WALK.slug}") + "?utm_source=x&utm_medium=social&utm_campaign=hookline"
    assert draft.text == f"{WALK.title} {link}"
    assert draft.preflight is not None and draft.preflight["final_url"] == web.url(f"/news/{WALK.slug}")
    assert draft.by_hand == "Alex Morgan"
    assert draft.reason.startswith("drafted by hand from a skip by Alex Morgan (the rules said: no category")
    # And its history says who drafted it by hand; approvers were told as for any draft
    [queued] = store.audit(draft.id)
    assert (queued.actor, queued.action) == ("Alex Morgan", "queued")
    assert queued.reason is not None and queued.reason.startswith(
        "drafted by hand from a skip by Alex Morgan"
    )
    assert len(aws.of("SendEmail")) == emails_before + 2
    # And a repeated delivery (Lambda retries asynchronous events) drafts nothing twice
    assert call(poll, invoked.params["Payload"]) == {"drafted": draft.id}
    assert len(store.drafts_in(State.PENDING)) == 1

    with time_machine.travel(NOW.replace(minute=5), tick=True):
        # And the queue page now shows the draft waiting, and the skip as drafted
        queue = call(approvals, api_event("GET", f"/queue?token={quote(token)}"))["body"]
        assert "Waiting for a decision (1)" in queue
        assert "Drafted by hand by Alex Morgan: it is in the queue above." in queue
        # And the review page shows the history line; it is approved as usual...
        review_url = signer(SIGNING_KEY).decide_url(draft, "sam@example.org")
        review = call(approvals, api_event("GET", review_url))["body"]
        assert "drafted by hand from a skip by Alex Morgan" in review
        decide_token = review_url.split("token=")[1]
        decided = call(
            approvals, api_event("POST", f"/drafts/{draft.id}", {"token": decide_token, "action": "approve"})
        )
        assert decided["statusCode"] == 200
        # ...and published
        assert call(publish, load("publish"))["published"] == 1
    assert x_api.sent[-1].body == {"text": draft.text}
    assert store.get_draft(draft.id).state is State.PUBLISHED


def test_a_skip_that_cannot_be_drafted_says_why_on_the_queue_page(lambda_env, web, aws):
    store = lambda_env.store()
    approvals = lambda_env.handler("approvals")
    with time_machine.travel(NOW, tick=True):
        poll = skipped_entry(lambda_env, web)
        token = queue_token()
        body = call(approvals, api_event("GET", f"/queue?token={quote(token)}"))["body"]
        [action] = re.findall(r'action="https://approve\.example\.org(/skips/news/[0-9a-f]+)"', body)
        call(approvals, api_event("POST", action, {"token": token, "action": "draft"}))
        # Given the feed was removed from the config before the poll function ran
        lambda_env.write_config(feeds=[{"id": "other", "url": web.url("/other.xml")}])
        [invoked] = aws.of("Invoke")
        result = call(lambda_env.handler("poll_feeds"), invoked.params["Payload"])
    assert result["drafted"] is None
    assert store.drafts_in(State.PENDING) == []
    [record] = store.kept_skips(now=NOW)
    assert record["draft_error"] == "the feed 'news' is no longer in the config"
    assert poll is not None


# -- on a phone, in Chromium --------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}


class Site:
    """The approvals function behind the bridge (as `make demo` serves it)."""

    def __init__(self, lambda_env: Any) -> None:
        self.bridge = Bridge(self._serve, port=0)
        lambda_env.monkeypatch.setenv("HOOKLINE_BASE_URL", self.bridge.base_url)
        self.lambda_env = lambda_env
        self._lock = threading.Lock()
        self.bridge.start()

    def _serve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            return self.lambda_env.handler("approvals").lambda_handler(event, context)  # type: ignore[no-any-return]


@pytest.fixture
def site(lambda_env) -> Iterator[Site]:
    served = Site(lambda_env)
    yield served
    served.bridge.stop()


@pytest.mark.browser
def test_an_approver_on_a_phone_drafts_a_skip_with_one_tap_a_scanner_and_a_second_tab_change_nothing(
    site, lambda_env, web, aws, chromium, x_api
):
    with time_machine.travel(NOW, tick=True):
        poll = skipped_entry(lambda_env, web)
        links = signer(SIGNING_KEY, base_url=site.bridge.base_url)
        queue_url = links.queue_url(links.queue_token("alex@example.org"))
        context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        try:
            phone, other_tab = context.new_page(), context.new_page()
            # Given the queue page open twice (a phone and a forgotten tab)
            assert phone.goto(queue_url).status == 200
            other_tab.goto(queue_url)
            assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            # And the page with its skipped entries passes axe-core's WCAG 2.2 AA rules
            assert axe_violations(chromium, queue_url) == []

            # When a mail scanner that fetched the queue link submits the form without the button
            scanner = context.new_page()
            scanner.goto(queue_url)
            with scanner.expect_navigation():
                scanner.evaluate("() => document.querySelector('ol.skips form').submit()")
            # Then nothing is asked of the poll function, and the button is still there for Alex
            assert "press the Draft this button to have the entry drafted" in scanner.content()
            assert aws.of("Invoke") == []
            scanner.close()

            # When Alex taps Draft this
            button = phone.get_by_role("button", name=f"Draft this: {WALK.title}")
            box = button.bounding_box()
            assert box is not None and box["height"] >= 44
            with phone.expect_navigation():
                button.tap()

            # Then the page says it is being drafted, and the button is gone
            assert "is being drafted" in phone.get_by_role("status").first.inner_text()
            assert phone.get_by_text("Being drafted (asked by Alex Morgan).").is_visible()
            assert phone.get_by_role("button", name=f"Draft this: {WALK.title}").count() == 0

            # And the forgotten tab's press is refused with who asked first
            response_status: list[int] = []
            other_tab.on("response", lambda r: response_status.append(r.status))
            with other_tab.expect_navigation():
                other_tab.get_by_role("button", name=f"Draft this: {WALK.title}").click()
            assert 409 in response_status
            assert "Alex Morgan already asked for this entry to be drafted" in other_tab.content()

            # When the poll function has drafted it, the queue shows the draft, one tap from its review
            [invoked] = aws.of("Invoke")
            call(poll, invoked.params["Payload"])
            phone.goto(queue_url)
            assert phone.get_by_role("heading", name="Waiting for a decision (1)").is_visible()
            with phone.expect_navigation():
                phone.locator("ol.queue").first.get_by_role(
                    "link", name=re.compile(re.escape(WALK.title))
                ).tap()
            assert "drafted by hand from a skip by Alex Morgan" in phone.content()

            # And a tap on Approve approves it, and the publisher posts it as any approved draft
            approve = phone.get_by_role("button", name=re.compile("^Approve"))
            with phone.expect_navigation():
                approve.tap()
            [draft] = lambda_env.store().drafts_in(State.APPROVED)
            assert draft.by_hand == "Alex Morgan"
            assert call(lambda_env.handler("publish"), load("publish"))["published"] == 1
            assert x_api.sent[-1].body == {"text": draft.text}
            assert lambda_env.store().get_draft(draft.id).state is State.PUBLISHED
        finally:
            context.close()


def test_a_failure_while_drafting_a_skip_releases_the_request_so_the_button_works_again(
    lambda_env, web, aws, monkeypatch
):
    from hookline.store import Store

    approvals = lambda_env.handler("approvals")
    with time_machine.travel(NOW, tick=True):
        poll = skipped_entry(lambda_env, web)
        token = queue_token()
        body = call(approvals, api_event("GET", f"/queue?token={quote(token)}"))["body"]
        [action] = re.findall(r'action="https://approve\.example\.org(/skips/news/[0-9a-f]+)"', body)
        call(approvals, api_event("POST", action, {"token": token, "action": "draft"}))
        [invoked] = aws.of("Invoke")

        # Given DynamoDB failing the draft's write when the poll function runs
        def outage(self: Store, draft: Any, **_: Any) -> bool:
            raise ConnectionError("DynamoDB is unreachable")

        with monkeypatch.context() as patched:
            patched.setattr(Store, "create_draft", outage)
            with pytest.raises(ConnectionError):
                call(poll, invoked.params["Payload"])

        # Then the queue page offers Draft this again, and a second press goes through
        body = call(approvals, api_event("GET", f"/queue?token={quote(token)}"))["body"]
        assert "Being drafted" not in body
        assert (
            call(approvals, api_event("POST", action, {"token": token, "action": "draft"}))["statusCode"]
            == 200
        )
        assert len(aws.of("Invoke")) == 2


def _skip(store: Any, feed_id: str, title: str, at: Any, keep_days: int = 30) -> None:
    from hookline.models import Entry, Judgement

    entry = Entry(
        feed_id=feed_id,
        identity=title,
        title=title,
        link=f"https://www.example.org/{feed_id}/{len(title)}",
        published=at,
    )
    reason = f"no category or keyword of rule 'publications' matched ({title})"
    store.record_skip(
        entry, Judgement("skip", reason, "publications", "unmatched"), now=at, keep_days=keep_days
    )


def test_the_queue_page_lists_every_feeds_kept_skips_newest_first_and_not_those_past_their_days(
    lambda_env, aws
):
    from datetime import timedelta

    lambda_env.monkeypatch.setenv("HOOKLINE_POLL_FUNCTION", POLL_FUNCTION)
    lambda_env.write_config(
        feeds=[
            {"id": "news", "url": "http://127.0.0.1:9/news.xml"},
            {"id": "events", "url": "http://127.0.0.1:9/events.xml", "kind": "event", "rules": "events"},
        ],
        rule_sets={"events": {"max_age_days": None}},
    )
    store = lambda_env.store()
    # Given skips of two feeds at different times, and one older than skip_record_days (30)
    _skip(store, "news", "Walk along the river banks", NOW - timedelta(days=3))
    _skip(store, "events", "Winter fair on the green", NOW - timedelta(hours=2))
    _skip(store, "news", "Library opening times", NOW - timedelta(days=12))
    _skip(store, "events", "Summer fete, last year", NOW - timedelta(days=31))

    # When an approver opens the queue page
    with time_machine.travel(NOW, tick=False):
        page = call(lambda_env.handler("approvals"), api_event("GET", f"/queue?token={quote(queue_token())}"))

    # Then the kept skips of both feeds are listed newest first, each with its feed and reason
    body = page["body"]
    assert page["statusCode"] == 200
    assert "Skipped by the rules (3)" in body
    listed = body.split('<ol class="queue skips">', 1)[1].split("</ol>", 1)[0]
    titles = re.findall(r'rel="noopener noreferrer">([^<]+)</a>', listed)
    assert titles == ["Winter fair on the green", "Walk along the river banks", "Library opening times"]
    assert "events · skipped 2 hours ago · no category or keyword of rule" in listed
    assert "news · skipped 3 days ago" in listed
    # And the one past its days is gone, though DynamoDB's TTL has not deleted it yet
    assert "Summer fete" not in body
    assert listed.count(">Draft this</button>") == 3


@pytest.mark.parametrize(
    ("who", "days", "message"),
    [
        ("alex@example.org", 8, "This link has expired."),
        ("former@example.org", 1, "This link belongs to someone who is no longer an approver."),
    ],
    ids=["expired link", "no longer an approver"],
)
def test_draft_this_obeys_the_token_rules_of_a_decision(lambda_env, web, aws, who, days, message):
    from datetime import timedelta

    approvals = lambda_env.handler("approvals")
    with time_machine.travel(NOW, tick=True):
        skipped_entry(lambda_env, web)
        body = call(approvals, api_event("GET", f"/queue?token={quote(queue_token())}"))["body"]
        [action] = re.findall(r'action="https://approve\.example\.org(/skips/news/[0-9a-f]+)"', body)
        # Given a queue link issued `days` ago (links last 7), or to someone not in the approvers
        with time_machine.travel(NOW - timedelta(days=days), tick=False):
            old = queue_token(who)

    # When it presses Draft this
    with time_machine.travel(NOW + timedelta(minutes=1), tick=True):
        pressed = call(approvals, api_event("POST", action, {"token": old, "action": "draft"}))
        after = call(approvals, api_event("GET", f"/queue?token={quote(queue_token())}"))["body"]

    # Then it is refused with the reason, nothing is recorded and the poll function is not asked
    assert pressed["statusCode"] == 403
    assert message in pressed["body"]
    assert aws.of("Invoke") == []
    assert "Being drafted" not in after and ">Draft this</button>" in after

"""Pacing: the publish window, spacing, daily and monthly caps, order, expiry and the pause switch.

Time is injected (the `clock` fixture, a Wednesday 10:00 in London) and moved explicitly;
the drafts live in DynamoDB Local and X is intercepted at the transport.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from hookline.config import cents
from hookline.models import State
from hookline.publish.run import in_window, publish_order
from hookline.store import PaceRefused
from tests.conftest import NOW, make_config
from tests.support.publishing import UNPACED, Publisher, approved, creates

MONTH, DAY = NOW.strftime("%Y-%m"), NOW.strftime("%Y-%m-%d")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# -- the window --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (utc(2026, 11, 25, 10, 0), True),  # Wednesday 10:00 GMT
        (utc(2026, 11, 25, 8, 59), False),  # before 09:00
        (utc(2026, 11, 25, 9, 0), True),  # the window opens at 09:00
        (utc(2026, 11, 25, 17, 29), True),
        (utc(2026, 11, 25, 17, 30), False),  # and is closed from 17:30
        (utc(2026, 11, 28, 12, 0), False),  # Saturday
        (utc(2026, 7, 1, 8, 30), True),  # 09:30 in London in summer (BST)
        (utc(2026, 7, 1, 16, 45), False),  # 17:45 BST
    ],
)
def test_the_window_is_read_in_the_organisations_timezone(when, inside):
    # Given the default window: Monday to Friday, 09:00 to 17:30, Europe/London
    config = make_config()

    # Then a moment is inside it exactly when London's clock says so
    assert in_window(config, when) is inside


def test_the_window_can_have_its_own_timezone_and_days():
    # Given a window in New York time, weekends only
    config = make_config(
        pacing={
            "window": {
                "days": ["sat", "sun"],
                "start": "10:00",
                "end": "12:00",
                "timezone": "America/New_York",
            }
        }
    )

    # Then Saturday 10:30 in New York is inside, and the same moment's London time does not matter
    assert in_window(config, utc(2026, 11, 28, 15, 30)) is True
    assert in_window(config, utc(2026, 11, 28, 10, 30)) is False  # 05:30 in New York
    assert in_window(config, utc(2026, 11, 25, 15, 30)) is False  # Wednesday


def test_a_window_timezone_typo_is_a_config_error_naming_the_field():
    from hookline.config import ConfigError

    with pytest.raises(ConfigError, match=r"pacing\.window\.timezone: unknown timezone 'Europe/Londn'"):
        make_config(pacing={"window": {"timezone": "Europe/Londn"}})


def test_outside_the_window_nothing_posts_and_the_draft_goes_out_when_it_opens(store, clock, x_api):
    # Given an approved draft on a Wednesday evening
    config = make_config()
    clock.now = utc(2026, 11, 25, 18, 0)
    draft = approved(store, "Evening report", at=clock.now - timedelta(minutes=5))
    publisher = Publisher(store, config, clock)

    # When the publisher runs through the night
    for _ in range(4):
        report = publisher.run()
        assert report.waiting == "outside the publish window"
        clock.advance(hours=3)

    # Then nothing was sent, not even the account check
    assert x_api.sent == []

    # When the window opens on Thursday morning
    clock.now = utc(2026, 11, 26, 9, 0)
    publisher.run()

    # Then it is posted
    assert store.get_draft(draft.id).state is State.PUBLISHED


# -- spacing and caps --------------------------------------------------------------------------


def test_posts_are_spaced_by_the_minimum_spacing(store, clock, x_api):
    # Given an hour's spacing and two approved drafts
    config = make_config(pacing={"min_spacing_minutes": 60})
    first = approved(store, "First report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second report", at=NOW - timedelta(hours=1))
    publisher = Publisher(store, config, clock)

    # When the publisher runs now, in half an hour, and in an hour
    publisher.run()
    clock.advance(minutes=30)
    halfway = publisher.run()
    assert x_api.created == [first.text]
    clock.advance(minutes=30)
    publisher.run()

    # Then the first went out at once, the second only an hour later
    assert halfway.waiting == "too soon after the last post (spacing 60 minutes)"
    assert x_api.created == [first.text, second.text]
    assert store.get_draft(second.id).published_at == NOW + timedelta(hours=1)


def test_the_daily_cap_holds_the_rest_until_tomorrow(store, clock, x_api):
    # Given a cap of two posts a day and three approved drafts
    config = make_config(pacing={"min_spacing_minutes": 0, "daily_cap": 2})
    drafts = [approved(store, f"Report {n}", at=NOW - timedelta(hours=3 - n)) for n in range(3)]
    publisher = Publisher(store, config, clock)

    # When the publisher runs today
    report = publisher.run()
    clock.advance(hours=2)
    later = publisher.run()

    # Then two went out, the third waits for the daily cap
    assert x_api.created == [drafts[0].text, drafts[1].text]
    assert report.waiting == later.waiting == "daily cap reached (2 posts)"
    assert store.posts_on(DAY) == 2

    # When tomorrow's window opens
    clock.now = NOW + timedelta(days=1)
    publisher.run()

    # Then the third goes out
    assert x_api.created[-1] == drafts[2].text


def test_the_monthly_spend_cap_is_never_exceeded_and_the_price_is_configurable(store, clock, x_api):
    # Given X's price at $0.25 a post and a $0.60 cap: two posts fit, a third would overspend
    config = make_config(
        pacing={
            "min_spacing_minutes": 0,
            "daily_cap": 10,
            "monthly_spend_cap_usd": 0.60,
            "price_per_post_usd": 0.25,
        }
    )
    drafts = [approved(store, f"Paper {n}", at=NOW - timedelta(hours=3 - n)) for n in range(3)]
    publisher = Publisher(store, config, clock)

    # When the publisher runs
    report = publisher.run()

    # Then two were posted and the spend is $0.50 of the cap
    assert len(x_api.created) == 2
    assert report.spend_cents == 50
    assert store.month_spend(MONTH).cents == 50
    assert report.waiting == "monthly spend cap reached ($0.50 of $0.60 spent)"
    assert store.get_draft(drafts[2].id).state is State.APPROVED

    # When next month comes
    clock.now = utc(2026, 12, 1, 10, 0)  # a Tuesday
    publisher.run()

    # Then the third goes out, counted against December
    assert len(x_api.created) == 3
    assert store.month_spend("2026-12").cents == 25


def test_publishers_racing_for_the_last_slots_cannot_overspend(store):
    # Given room for three posts this month
    results: list[str] = []
    start = threading.Barrier(8)

    def reserve() -> None:
        start.wait()
        try:
            store.reserve_post(
                now=NOW,
                month=MONTH,
                day=DAY,
                cents=20,
                month_cap_cents=60,
                daily_cap=10,
                spacing=timedelta(0),
            )
            results.append("reserved")
        except PaceRefused as exc:
            results.append(exc.reason)

    # When eight publishers try to reserve at the same moment
    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then exactly three won, and the month's spend is exactly the cap
    assert results.count("reserved") == 3
    assert store.month_spend(MONTH).cents == 60
    assert store.posts_on(DAY) == 3


def test_a_released_reservation_gives_back_spend_day_and_spacing(store):
    # Given a post reserved at 10:00 with an hour's spacing
    hour = timedelta(hours=1)
    args = {"month": MONTH, "day": DAY, "cents": 20, "month_cap_cents": 2000, "daily_cap": 4, "spacing": hour}
    store.reserve_post(now=NOW, **args)
    with pytest.raises(PaceRefused, match="too soon"):
        store.reserve_post(now=NOW + timedelta(minutes=10), **args)

    # When X refused it and the reservation is released
    store.release_post(month=MONTH, day=DAY, cents=20, now=NOW)

    # Then the spend, the day's count and the spacing slot are all back
    assert store.month_spend(MONTH).cents == 0
    assert store.posts_on(DAY) == 0
    store.reserve_post(now=NOW + timedelta(minutes=10), **args)


def test_cents_are_whole():
    assert cents(0.20) == 20
    assert cents(0.015) == 2


# -- order -------------------------------------------------------------------------------------


def test_events_starting_soon_go_first_soonest_first_then_approval_order(store, clock, x_api):
    # Given drafts approved in this order, some of them events
    config = make_config(**UNPACED)
    pub_early = approved(store, "Publication approved first", at=NOW - timedelta(hours=5))
    event_later = approved(
        store, "Event in three days", at=NOW - timedelta(hours=4), event_start=NOW + timedelta(hours=72)
    )
    event_tomorrow = approved(
        store, "Event tomorrow", at=NOW - timedelta(hours=3), event_start=NOW + timedelta(hours=30)
    )
    pub_late = approved(store, "Publication approved last", at=NOW - timedelta(hours=2))
    event_today = approved(
        store, "Event this afternoon", at=NOW - timedelta(hours=1), event_start=NOW + timedelta(hours=5)
    )

    # Then events within 48 hours come first, soonest first, then everything in approval order
    expected = [event_today, event_tomorrow, pub_early, event_later, pub_late]
    drafts = [store.get_draft(d.id) for d in (pub_early, event_later, event_tomorrow, pub_late, event_today)]
    assert [d.id for d in publish_order(drafts, config, NOW)] == [d.id for d in expected]

    # And that is the order they reach X
    Publisher(store, config, clock).run()
    assert x_api.created == [d.text for d in expected]


# -- expiry and the pause switch ---------------------------------------------------------------


def test_an_approved_event_draft_expires_when_its_event_starts_and_is_never_posted(store, clock, x_api):
    # Given an approved event starting at 18:00, after the window closes
    config = make_config()
    draft = approved(store, "Evening lecture", at=NOW - timedelta(hours=1), event_start=NOW.replace(hour=18))
    publisher = Publisher(store, config, clock)
    store.set_pause(True, by="Alex Morgan", reason="crisis", now=NOW)

    # When publishing is paused until after it started
    clock.now = NOW.replace(hour=18, minute=5)
    publisher.run()

    # Then it expired, with the reason recorded
    expired = store.get_draft(draft.id)
    assert expired.state is State.EXPIRED
    assert store.audit(draft.id)[-1].reason == "the event has started"

    # And resuming publishes nothing
    store.set_pause(False, by="Alex Morgan", reason=None, now=clock.now)
    clock.now = NOW + timedelta(days=1)
    publisher.run()
    assert x_api.sent == []


def test_paused_means_nothing_posts_and_resuming_publishes_nothing_that_expired(store, clock, x_api):
    # Given an approved publication, an approved event tomorrow at 12:00, and a pending draft
    config = make_config(**UNPACED)
    publication = approved(store, "Report on rivers", at=NOW - timedelta(hours=1))
    event = approved(
        store, "Open day", at=NOW - timedelta(hours=1), event_start=NOW + timedelta(days=1, hours=2)
    )
    pending = approved(store, "Pending study", at=NOW - timedelta(hours=1), state=State.PENDING)
    publisher = Publisher(store, config, clock)

    # When publishing is paused for a crisis and the publisher keeps running for ten days
    store.set_pause(True, by="Alex Morgan <alex@example.org>", reason="crisis on the news", now=NOW)
    reports = []
    for _ in range(10):
        reports.append(publisher.run())
        clock.advance(days=1)

    # Then nothing was sent to X at all, and every run says why
    assert x_api.sent == []
    assert reports[0].held == "paused by Alex Morgan <alex@example.org>: crisis on the news"
    # And meanwhile the event started and the pending draft passed its expiry: both expired
    assert store.get_draft(event.id).state is State.EXPIRED
    assert store.get_draft(pending.id).state is State.EXPIRED
    assert store.audit(pending.id)[-1].reason == "nobody decided within 7 days"

    # When publishing resumes (a weekday, in the window)
    store.set_pause(False, by="Alex Morgan <alex@example.org>", reason=None, now=clock.now)
    clock.now = utc(2026, 12, 7, 10, 0)
    publisher.run()

    # Then only what is still valid is posted
    assert creates(x_api) == [publication.text]


def test_the_window_and_caps_are_judged_on_the_injected_clock_not_the_machine_clock(store, clock, x_api):
    # Given the machine's clock says Sunday night but the run's clock says Wednesday 10:00
    config = make_config()
    draft = approved(store, "Clock test report", at=NOW - timedelta(hours=1))
    with time_machine.travel(utc(2026, 11, 29, 23, 0), tick=False):
        Publisher(store, config, clock).run()

    # Then the run's clock decides: it is posted and counted on Wednesday
    assert store.get_draft(draft.id).state is State.PUBLISHED
    assert store.posts_on(DAY) == 1

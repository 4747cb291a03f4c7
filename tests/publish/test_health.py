"""The health gauges behind the alarms, computed from a real table (DynamoDB Local)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hookline.models import Draft, Entry, State
from hookline.publish.health import gauges
from hookline.store import Move, Store
from tests.conftest import NOW, make_config


def a_draft(store: Store, title: str, *, created: datetime) -> Draft:
    """A PENDING draft queued at `created` (the store's clock is moved there and back)."""
    entry = Entry(feed_id="news", identity=title, title=title, link=f"https://www.example.org/{len(title)}")
    draft = Draft(
        id=entry.key,
        feed_id="news",
        title=title,
        link=entry.link,
        post_link=entry.link,
        text=f"{title} {entry.link}",
        composed_text=f"{title} {entry.link}",
        weighted_length=len(title) + 24,
        reason="category 'Report' matched rule 'publications'",
        created_at=created,
        state_at=created,
        expires_at=created + timedelta(days=7),
    )
    assert store.create_draft(draft)
    return store.get_draft(draft.id)


def publishing(store: Store, draft: Draft, *, started: datetime) -> Draft:
    """Approve the draft and start a publish attempt at `started`, as the publisher would."""
    approved = store.transition(draft, Move(State.APPROVED, actor="Alex", action="approve"))
    return store.transition(
        approved,
        Move(
            State.PUBLISHING,
            actor="publisher",
            action="publish attempt",
            changes={"attempt": {"id": f"attempt-{draft.id[:6]}", "started_at": started.isoformat()}},
        ),
    )


def spend(store: Store, *, posts: int, cents_each: int = 20, month: str = "2026-11") -> None:
    """Book posts the way the publisher does (reserve_post), one an hour from the 1st of the month."""
    first = datetime.fromisoformat(f"{month}-01T00:00:00+00:00")
    for i in range(posts):
        store.reserve_post(
            now=first + timedelta(hours=i),
            month=month,
            day=f"{month}-01",
            cents=cents_each,
            month_cap_cents=100_000,
            daily_cap=1_000,
            spacing=timedelta(0),
        )


def test_a_quiet_healthy_table_reads_all_zero(store, clock):
    # Given a deployment with nothing queued, nothing publishing and nothing spent
    # When the gauges are read
    values = gauges(store, make_config(), clock())

    # Then every alarm gauge is at rest
    assert values == {
        "DraftsStuckPublishing": 0.0,
        "PendingDrafts": 0.0,
        "OldestPendingMinutes": 0.0,
        "PendingPastReminder": 0.0,
        "MonthSpendPercentOfCap": 0.0,
    }


def test_only_an_attempt_older_than_the_stuck_limit_counts_as_stuck(store, clock):
    # Given one attempt that started 20 minutes ago and was never settled, and one started 2 minutes ago
    old = a_draft(store, "Old report", created=NOW - timedelta(hours=2))
    fresh = a_draft(store, "Fresh research", created=NOW - timedelta(hours=1))
    publishing(store, old, started=NOW - timedelta(minutes=20))
    publishing(store, fresh, started=NOW - timedelta(minutes=2))

    # When the gauges are read now
    values = gauges(store, make_config(), clock())

    # Then only the old one is stuck; the fresh one may still be talking to X
    assert values["DraftsStuckPublishing"] == 1.0
    # And neither is pending any more
    assert values["PendingDrafts"] == 0.0

    # And when the fresh attempt has been running past the limit too, both count
    clock.advance(minutes=14)
    assert gauges(store, make_config(), clock())["DraftsStuckPublishing"] == 2.0


def test_the_queue_gauges_show_the_oldest_wait_and_how_many_are_past_the_reminder_limit(store, clock):
    # Given drafts waiting 5 hours, 4 hours exactly and 30 minutes, with reminders due after 4 hours
    config = make_config(approval={"reminder_after_hours": 4})
    for title, age in (("Five hours", 300), ("Four hours", 240), ("Half an hour", 30)):
        a_draft(store, title, created=NOW - timedelta(minutes=age))

    # When the gauges are read
    values = gauges(store, config, clock())

    # Then the oldest has waited 300 minutes and two have reached the reminder limit
    assert values["PendingDrafts"] == 3.0
    assert values["OldestPendingMinutes"] == 300.0
    assert values["PendingPastReminder"] == 2.0

    # And once someone decides the oldest two, the queue gauges fall back
    for draft in store.drafts_in(State.PENDING):
        if draft.title != "Half an hour":
            store.transition(draft, Move(State.REJECTED, actor="Alex", action="reject"))
    values = gauges(store, config, clock())
    assert (values["PendingDrafts"], values["OldestPendingMinutes"], values["PendingPastReminder"]) == (
        1.0,
        30.0,
        0.0,
    )


def test_spend_is_a_percentage_of_this_months_cap(store, clock):
    # Given 82 posts at $0.20 this month against a $20 cap, and more last month
    spend(store, posts=100, month="2026-10")
    spend(store, posts=82)

    # When the gauges are read
    values = gauges(store, make_config(pacing={"monthly_spend_cap_usd": 20}), clock())

    # Then only this month counts: $16.40 of $20 is 82 %, past the 80 % alarm threshold
    assert values["MonthSpendPercentOfCap"] == 82.0


def test_the_month_is_the_organisations_month_not_utcs(store, clock):
    # Given an organisation in Auckland, and spend booked in December (Auckland time)
    # while it is still November in UTC
    clock.now = datetime.fromisoformat("2026-11-30T12:00:00+00:00")  # 1 Dec 01:00 in Auckland
    spend(store, posts=10, month="2026-12")
    config = make_config(organisation={"timezone": "Pacific/Auckland"}, pacing={"monthly_spend_cap_usd": 10})

    # Then the gauge reads December's spend, as the publisher books it
    assert gauges(store, config, clock())["MonthSpendPercentOfCap"] == 20.0


def test_a_zero_cap_with_any_spend_reads_as_the_whole_cap(store, clock):
    # Given a cap of $0 (posting switched off by budget) but a post already booked
    spend(store, posts=1)

    # Then the spend gauge is at 100 %, not a division error
    values = gauges(store, make_config(pacing={"monthly_spend_cap_usd": 0}), clock())
    assert values["MonthSpendPercentOfCap"] == 100.0

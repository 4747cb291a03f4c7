"""When an approved post is expected to go out, as the result page tells the approver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hookline.approval.review import expected_publish_at
from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW, make_config
from tests.support.drafts import add_draft, event_draft

CONFIG = make_config()  # window Mon-Fri 09:00-17:30 London, 60 minutes apart, at most 4 a day


def approve(store, draft, at):
    return store.transition(
        draft,
        Move(
            State.APPROVED,
            actor="Alex Morgan <alex@example.org>",
            action="approve",
            changes={"approved_at": at},
        ),
    )


def posted(store, at, *, today=1):
    store.reserve_post(
        now=at,
        month=at.strftime("%Y-%m"),
        day=at.strftime("%Y-%m-%d"),
        cents=20,
        month_cap_cents=2000,
        daily_cap=10,
        spacing=timedelta(0),
    )
    if today > 1:
        store.client.put_item(
            TableName=store.table,
            Item={"pk": {"S": f"PACE#{at:%Y-%m-%d}"}, "sk": {"S": "DAY"}, "posts": {"N": str(today)}},
        )


def test_with_nothing_ahead_it_goes_out_now(store):
    draft = approve(store, add_draft(store, NOW), NOW)
    assert expected_publish_at(store, CONFIG, draft, NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_it_waits_for_the_spacing_after_the_last_post(store):
    posted(store, NOW)
    draft = approve(store, add_draft(store, NOW), NOW)
    assert expected_publish_at(store, CONFIG, draft, NOW + timedelta(minutes=5)) == NOW + timedelta(hours=1)


def test_it_queues_behind_earlier_approvals(store):
    posted(store, NOW)
    for n in range(2):
        approve(store, add_draft(store, NOW, identity=f"earlier {n}"), NOW - timedelta(minutes=30 - n))
    draft = approve(store, add_draft(store, NOW), NOW + timedelta(minutes=5))
    # 11:00 and 12:00 go to the two ahead of it
    assert expected_publish_at(store, CONFIG, draft, NOW + timedelta(minutes=5)) == NOW.replace(hour=13)


def test_an_event_starting_soon_goes_first(store):
    approve(store, add_draft(store, NOW, identity="earlier"), NOW - timedelta(minutes=30))
    event = approve(store, event_draft(store, NOW, starts_in=timedelta(days=1)), NOW + timedelta(minutes=5))
    assert expected_publish_at(store, CONFIG, event, NOW + timedelta(minutes=5)) == NOW + timedelta(minutes=5)


def test_after_the_window_closes_it_goes_out_next_working_morning(store):
    evening = NOW.replace(hour=17, minute=20)
    approve(store, add_draft(store, NOW, identity="earlier"), NOW)
    draft = approve(store, add_draft(store, NOW), evening)
    # the one ahead takes 17:20; an hour later the window is closed until Thursday 09:00
    assert expected_publish_at(store, CONFIG, draft, evening) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_on_friday_evening_it_waits_for_monday(store):
    friday = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    draft = approve(store, add_draft(store, friday), friday)
    assert expected_publish_at(store, CONFIG, draft, friday) == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_when_todays_cap_is_spent_it_waits_for_tomorrow(store):
    posted(store, NOW.replace(hour=9), today=4)
    draft = approve(store, add_draft(store, NOW), NOW)
    assert expected_publish_at(store, CONFIG, draft, NOW) == datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_the_window_is_in_the_organisations_timezone(store):
    config = make_config(organisation={"timezone": "America/New_York"})
    draft = approve(store, add_draft(store, NOW), NOW)
    # 10:00 UTC is 05:00 in New York: it goes out at 09:00 there, 14:00 UTC
    assert expected_publish_at(store, config, draft, NOW) == NOW.replace(hour=14)

"""Reminders: a draft that waits too long is brought up again, once, inside working hours."""

from __future__ import annotations

import logging
from datetime import timedelta

import time_machine

from hookline.approval.notify import Notifier
from hookline.approval.reminders import send_reminders
from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.drafts import add_draft, event_draft, signer
from tests.support.events import call, load

TOPIC = "arn:aws:sns:eu-west-2:000000000000:hookline-approvers"
CONFIG = make_config()  # reminders after 4 hours; working hours Mon-Fri 09:00-17:30, Europe/London


def notifier(store, config=CONFIG):
    links = signer(SIGNING_KEY)
    return Notifier(config, store, lambda: links, topic_arn=TOPIC)


def subjects(aws):
    return [e.params["Content"]["Simple"]["Subject"]["Data"] for e in aws.of("SendEmail")]


def test_a_draft_waiting_longer_than_configured_is_reminded_once(store, aws, clock):
    # Given a draft queued at 10:00 on a Wednesday, whose first notifications went out
    draft = add_draft(store, NOW)
    notifier(store).new_draft(draft, NOW)
    aws.calls.clear()

    # When the publish run comes by after 3 hours 59 minutes, nobody is reminded yet
    assert send_reminders(store, notifier(store), CONFIG, NOW + timedelta(hours=3, minutes=59)) == []
    assert aws.calls == []

    # And after 4 hours, each approver gets a reminder with their personal link, the topic a view-only one
    at = NOW + timedelta(hours=4, minutes=5)
    assert send_reminders(store, notifier(store), CONFIG, at) == [draft.id]
    assert subjects(aws) == ["Reminder: post waiting for approval: " + draft.title] * 2
    alex = aws.of("SendEmail")[0].params["Content"]["Simple"]["Body"]["Text"]["Data"]
    assert alex.startswith("Still waiting for a decision, Alex Morgan.")
    assert f"https://approve.example.org/drafts/{draft.id}?token=" in alex
    [topic] = aws.of("Publish")
    assert topic.params["Message"].startswith("Still waiting for a decision")
    assert store.get_draft(draft.id).reminded_at == at

    # And later runs, that day and the next, remind nobody again
    for later in (at + timedelta(minutes=5), at + timedelta(hours=22)):
        assert send_reminders(store, notifier(store), CONFIG, later) == []
    assert len(aws.of("SendEmail")) == 2


def test_no_reminder_goes_out_outside_working_hours(store, aws):
    # Given a draft queued at 15:00 on a Wednesday: 4 hours later it is 19:00, after work
    draft = add_draft(store, NOW.replace(hour=15))
    evening = NOW.replace(hour=19, minute=5)

    # When the publish runs in the evening and at night, nobody is reminded
    for at in (evening, evening + timedelta(hours=5), NOW.replace(day=26, hour=8, minute=55)):
        assert send_reminders(store, notifier(store), CONFIG, at) == []
    assert aws.of("SendEmail") == []

    # Then the first run inside working hours the next morning reminds
    assert send_reminders(store, notifier(store), CONFIG, NOW.replace(day=26, hour=9, minute=0)) == [draft.id]


def test_a_draft_from_friday_afternoon_is_reminded_on_monday_morning(store, aws):
    friday = NOW.replace(day=27, hour=14)
    draft = add_draft(store, friday)
    for at in (friday.replace(hour=18), friday.replace(day=28, hour=11), friday.replace(day=29, hour=11)):
        assert send_reminders(store, notifier(store), CONFIG, at) == []
    assert send_reminders(store, notifier(store), CONFIG, friday.replace(day=30, hour=9, minute=5)) == [
        draft.id
    ]


def test_working_hours_are_the_organisations_local_time(store, aws):
    # Given an organisation in New York: 14:05 UTC is 09:05 there, 13:55 UTC is 08:55
    config = make_config(organisation={"timezone": "America/New_York"})
    draft = add_draft(store, NOW.replace(hour=6))
    assert send_reminders(store, notifier(store, config), config, NOW.replace(hour=13, minute=55)) == []
    assert send_reminders(store, notifier(store, config), config, NOW.replace(hour=14, minute=5)) == [
        draft.id
    ]


def test_the_waiting_time_and_the_hours_come_from_the_config(store, aws):
    config = make_config(
        approval={
            "reminder_after_hours": 1,
            "working_hours": {"days": ["wed"], "start": "10:30", "end": "11:30"},
        }
    )
    draft = add_draft(store, NOW.replace(hour=9))
    assert send_reminders(store, notifier(store, config), config, NOW.replace(hour=10, minute=15)) == []
    assert send_reminders(store, notifier(store, config), config, NOW.replace(hour=10, minute=35)) == [
        draft.id
    ]


def test_decided_expired_and_started_drafts_are_not_reminded(store, aws, clock):
    # Given an approved draft, a draft past its expiry and an event that has started, all waiting long enough
    approved = add_draft(store, NOW, identity="approved")
    store.transition(approved, Move(State.APPROVED, actor="Alex Morgan <alex@example.org>", action="approve"))
    add_draft(store, NOW, identity="stale", expires_at=NOW + timedelta(hours=2))
    event_draft(store, NOW, starts_in=timedelta(hours=3))
    fresh = add_draft(store, NOW, identity="fresh")

    # When the publish run comes by five hours later
    reminded = send_reminders(store, notifier(store), CONFIG, NOW + timedelta(hours=5))

    # Then only the draft that can still be decided is brought up
    assert reminded == [fresh.id]
    assert len(aws.of("SendEmail")) == 2


def test_a_reminder_that_failed_is_retried_by_the_next_run_for_the_channels_that_failed(store, aws):
    # Given a reminder run during which SNS fails
    draft = add_draft(store, NOW)
    at = NOW + timedelta(hours=5)
    aws.failures["Publish"] = 500
    assert send_reminders(store, notifier(store), CONFIG, at) == []
    assert len(aws.of("SendEmail")) == 2
    assert store.get_draft(draft.id).reminded_at is None  # the claim was released

    # When the next run comes by
    assert send_reminders(store, notifier(store), CONFIG, at + timedelta(minutes=5)) == [draft.id]

    # Then only the topic is sent again; nobody gets a second email
    assert len(aws.of("SendEmail")) == 2
    assert len(aws.of("Publish")) == 2


def test_two_overlapping_runs_remind_once(store, aws):
    # Given a run that has just claimed the draft's reminder
    draft = add_draft(store, NOW)
    at = NOW + timedelta(hours=5)
    assert store.claim_reminder(draft.id, at)

    # When another run looks at the same moment (the index still shows no reminder)
    assert send_reminders(store, notifier(store), CONFIG, at) == []

    # Then it sends nothing
    assert aws.of("SendEmail") == []


def test_the_scheduled_publish_run_sends_reminders_and_counts_them(lambda_env, aws, caplog):
    # Given a draft that has waited 5 hours in the deployment's table
    store = lambda_env.store()
    draft = add_draft(store, NOW)
    publish = lambda_env.handler("publish")
    caplog.set_level(logging.INFO)

    # When the scheduled publish run comes by
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        summary = call(publish, load("publish"))

    # Then it reminded the approvers and said so, as a result and in the run's log line
    assert summary["reminded"] == 1
    assert [e.params["Destination"]["ToAddresses"][0] for e in aws.of("SendEmail")] == [
        "alex@example.org",
        "sam@example.org",
    ]
    assert store.get_draft(draft.id).reminded_at is not None
    finished = [r for r in caplog.records if r.getMessage() == "publish run finished"]
    assert [r.reminded for r in finished] == [1]  # type: ignore[attr-defined]


def test_a_reminder_failure_never_stops_the_publish_run(lambda_env, aws, caplog):
    # Given a deployment whose signing key cannot be read, so no link can be signed
    store = lambda_env.store()
    draft = add_draft(store, NOW)
    lambda_env.monkeypatch.setenv("HOOKLINE_SIGNING_KEY", "")
    lambda_env.write_config()
    publish = lambda_env.handler("publish")

    # When the publish run comes by
    with time_machine.travel(NOW + timedelta(hours=5), tick=False):
        summary = call(publish, load("publish"))

    # Then the run finishes and reports, reminds nobody, and leaves the reminder for the next run
    assert summary["reminded"] == 0
    assert summary["published"] == 0
    assert aws.of("SendEmail") == []
    assert store.get_draft(draft.id).reminded_at is None
    assert "reminder not sent; the next run retries" in caplog.messages

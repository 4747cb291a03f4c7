"""Approve -> posted at once: the table's stream, filtered as template.yaml's DueNow event source
says, starts the publish function with the drafts that just became due.

The stream is DynamoDB Local's own; the filter is applied by local/streams.py, which reads it
from the template (tests/test_streams.py checks the matcher). The handlers are the deployed ones.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from hookline.approval.links import LinkSigner
from hookline.models import State
from hookline.store import Move
from local.dynamodb import stream_view_type
from local.streams import StreamTrigger
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import add_draft
from tests.support.events import api_event, call, load
from tests.support.publishing import approved, creates

SIGNER = LinkSigner([SIGNING_KEY], timedelta(days=7), "https://approve.example.org")


@pytest.fixture
def stream(lambda_env, dynamodb_local):
    """The table's stream, read as the publish function's event source mapping reads it; the
    runs it starts are kept in `runs`."""
    client = dynamodb_local.client()
    client.update_table(
        TableName=lambda_env.table,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": stream_view_type()},
    )
    runs: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> None:
        runs.append(call(lambda_env.handler("publish"), event, timeout=60))

    trigger = StreamTrigger(client, dynamodb_local.streams_client(), lambda_env.table, invoke).open()
    trigger.runs = runs  # type: ignore[attr-defined]
    return trigger


def decide(lambda_env, draft, action: str, who: str = "alex@example.org") -> dict[str, Any]:
    token = SIGNER.decide_token(draft, who)
    return call(
        lambda_env.handler("approvals"),
        api_event("POST", f"/drafts/{draft.id}", {"token": token, "action": action}),
    )


def test_approving_posts_at_once_and_the_schedule_after_it_posts_nothing_more(lambda_env, x_api, stream):
    store = lambda_env.store()
    draft = add_draft(store, NOW - timedelta(hours=1))

    with time_machine.travel(NOW, tick=False):
        page = decide(lambda_env, draft, "approve")
        assert "Posting now" in page["body"]
        stream.poll_once()  # the stream's records reach the function
        # and the scheduled run a moment later finds nothing left to post
        scheduled = call(lambda_env.handler("publish"), load("publish"), timeout=60)

    [run] = stream.runs
    assert run["trigger"] == "stream"
    assert run["published"] == 1
    assert scheduled["published"] == 0
    assert creates(x_api) == [draft.text]
    stored = store.get_draft(draft.id)
    assert stored.state is State.PUBLISHED and stored.post_url
    # The review page, opened again, links the post
    with time_machine.travel(NOW + timedelta(seconds=5), tick=False):
        token = SIGNER.decide_token(stored, "alex@example.org")
        again = call(lambda_env.handler("approvals"), api_event("GET", f"/drafts/{draft.id}?token={token}"))
    assert f'<a href="{stored.post_url}" rel="noopener noreferrer">See the post on X</a>' in again["body"]


def test_two_triggers_for_one_draft_make_one_post(lambda_env, x_api, stream):
    # Given a draft approved, whose stream record reaches the function twice (a redelivered batch)
    # while a scheduled run also finds it
    store = lambda_env.store()
    draft = add_draft(store, NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        decide(lambda_env, draft, "approve")
        [record] = _records(stream)
        runs = [
            call(lambda_env.handler("publish"), {"Records": [record]}, timeout=60),
            call(lambda_env.handler("publish"), load("publish"), timeout=60),
            call(lambda_env.handler("publish"), {"Records": [record]}, timeout=60),
        ]
    assert creates(x_api) == [draft.text]
    assert sum(r["published"] for r in runs) == 1


def _records(stream: StreamTrigger) -> list[dict[str, Any]]:
    """The matching records now in the stream, without invoking anything."""
    kept: list[dict[str, Any]] = []
    handler, stream.handler = stream.handler, lambda event: kept.extend(event["Records"])
    try:
        stream.poll_once()
    finally:
        stream.handler = handler
    return kept


def test_a_paused_approval_waits_and_resuming_posts_it_at_once(lambda_env, x_api, stream):
    store = lambda_env.store()
    draft = add_draft(store, NOW - timedelta(hours=1))
    store.set_pause(True, by="Sam Patel <sam@example.org>", reason="Flood warning", now=NOW)

    with time_machine.travel(NOW, tick=False):
        page = decide(lambda_env, draft, "approve")
        stream.poll_once()
    assert "It is expected to go out when publishing resumes (it is paused now)." in page["body"]
    assert stream.runs[-1]["held"] == "paused by Sam Patel <sam@example.org>: Flood warning"
    assert creates(x_api) == []

    with time_machine.travel(NOW + timedelta(minutes=2), tick=False):
        store.set_pause(False, by="Sam Patel <sam@example.org>", reason=None, now=NOW + timedelta(minutes=2))
        stream.poll_once()
    assert stream.runs[-1]["trigger"] == "stream: publishing resumed"
    assert creates(x_api) == [draft.text]


def test_outside_the_window_the_approval_waits_for_the_window(lambda_env, x_api, stream):
    store = lambda_env.store()
    draft = add_draft(store, NOW - timedelta(hours=1))
    evening = NOW.replace(hour=19)  # the window closes at 17:30

    with time_machine.travel(evening, tick=False):
        page = decide(lambda_env, draft, "approve")
        stream.poll_once()

    assert "It is expected to go out at about Thu 26 Nov, 09:00 GMT." in page["body"]
    assert stream.runs[-1]["waiting"] == "outside the publish window"
    assert creates(x_api) == [] and store.get_draft(draft.id).state is State.APPROVED


def test_a_draft_put_back_with_a_backoff_starts_no_run(lambda_env, x_api, stream):
    # A publisher puts a draft back to APPROVED with a not-before time: that is the schedule's
    # to pick up at its time, not a reason to run now
    store = lambda_env.store()
    draft = approved(store, "Backoff report", at=NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        claimed = store.transition(draft, Move(State.PUBLISHING, actor="publisher", action="publish attempt"))
        store.transition(
            claimed,
            Move(
                State.APPROVED,
                actor="publisher",
                action="retry later",
                changes={"not_before": NOW + timedelta(minutes=5), "failure": "503 Service Unavailable"},
            ),
        )
        stream.poll_once()
    assert stream.runs == []

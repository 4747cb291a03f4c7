"""`python -m hookline status --stack NAME`: the stack found through CloudFormation (intercepted,
with the outputs `sam deploy` of template.yaml gives it), the table in DynamoDB Local.
"""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
import yaml

from hookline.models import State
from hookline.ops.cli import main
from hookline.store import Move, Store
from tests.conftest import NOW, _merge, base_config_data
from tests.publish.test_health import a_draft, publishing, spend
from tests.support.aws import deploy

STACK = "hookline-prod"


@pytest.fixture
def deployed(aws, dynamodb_local, table, tmp_path, monkeypatch) -> tuple[Store, Path]:
    """A deployed stack whose TableName output is a DynamoDB Local table; the config beside it."""
    deploy(aws, STACK, physical={"Table": table})
    monkeypatch.setenv("HOOKLINE_DYNAMODB_ENDPOINT", dynamodb_local.endpoint)
    config = _merge(
        base_config_data(),
        {
            "feeds": [
                {"id": "news", "url": "https://www.example.org/news/feed"},
                {"id": "events", "url": "https://www.example.org/events/feed", "kind": "event"},
            ],
            "pacing": {"monthly_spend_cap_usd": 20},
        },
    )
    path = tmp_path / "hookline.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    store = Store(table, client=dynamodb_local.client(), clock=lambda: NOW)
    return store, path


def status(path: Path, *extra: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        code = main(["status", "--stack", STACK, "--config", str(path), *extra], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_a_healthy_deployment_at_a_glance(deployed, aws):
    store, path = deployed
    # Given two feeds polled successfully five minutes ago, one draft waiting 2 hours,
    # one published, and three posts paid for this month
    for feed, url in (
        ("news", "https://www.example.org/news/feed"),
        ("events", "https://www.example.org/events/feed"),
    ):
        store.record_poll(feed, url=url, ok=True, now=NOW - timedelta(minutes=5))
    a_draft(store, "New research report: river quality", created=NOW - timedelta(hours=2))
    done = a_draft(store, "Annual report", created=NOW - timedelta(days=1))
    approved = store.transition(done, Move(State.APPROVED, actor="Alex", action="approve"))
    store.transition(approved, Move(State.REJECTED, actor="Alex", action="withdraw"))
    spend(store, posts=3)

    # When the operator asks for the status of the stack
    code, text, err = status(path)

    # Then the stack was found through CloudFormation, and the report reads the deployment's table
    assert code == 0, err
    assert [c.operation for c in aws.calls] == ["DescribeStacks"]
    assert aws.calls[0].params["StackName"] == STACK
    # And each feed shows its last poll and success, and no failure streak
    assert (
        "ok    news: last poll 2026-11-25 09:55 UTC, last success 2026-11-25 09:55 UTC, failure streak 0"
        in text
    )
    assert "ok    events: last poll 2026-11-25 09:55 UTC" in text
    # And drafts by state, the oldest pending draft, the month's posts and spend against the cap
    assert "PENDING 1" in text and "REJECTED 1" in text
    assert "Oldest pending: 'New research report: river quality' since 2026-11-25 08:00 UTC" in text
    assert "This month (2026-11): 3 posts, $0.60 of the $20.00 cap" in text
    # And publishing is running
    assert "Publishing: running" in text
    assert "PAUSED" not in text and "ALARM" not in text


def test_trouble_shows_the_failing_feed_who_paused_and_why_and_the_hold(deployed):
    store, path = deployed
    # Given a feed that has failed three polls in a row, publishing paused from the approval page,
    # publishing held by a failed account check, and a draft stuck mid-attempt
    store.record_poll("news", url="https://www.example.org/news/feed", ok=True, now=NOW - timedelta(hours=1))
    for minutes in (15, 10, 5):
        store.record_poll(
            "news",
            url="https://www.example.org/news/feed",
            ok=False,
            now=NOW - timedelta(minutes=minutes),
            error="HTTP 503 Service Unavailable",
        )
    store.set_pause(
        True, by="Sam Patel", reason="Flooding incident: hold all posts", now=NOW - timedelta(minutes=30)
    )
    store.put_control("HOLD", {"reason": "the X credentials belong to @someone_else", "at": NOW.isoformat()})
    stuck = a_draft(store, "Stuck report", created=NOW - timedelta(hours=3))
    publishing(store, stuck, started=NOW - timedelta(hours=1))

    # When the operator asks for the status
    code, text, _ = status(path)

    # Then the failing feed is flagged with its streak and last error
    assert code == 0
    assert (
        "ALARM news: last poll 2026-11-25 09:55 UTC, last success 2026-11-25 09:00 UTC, failure streak 3"
        in text
    )
    assert "last error: HTTP 503 Service Unavailable" in text
    # And the feed never polled says so
    assert "events: last poll never, last success never, failure streak 0" in text
    # And who paused publishing, when and why
    assert "PAUSED by Sam Patel at 2026-11-25 09:30 UTC: Flooding incident: hold all posts" in text
    # And the hold from the account check
    assert "HELD: the X credentials belong to @someone_else" in text
    # And the draft stuck in PUBLISHING is counted
    assert "PUBLISHING 1" in text


def test_json_status_is_machine_readable(deployed):
    store, path = deployed
    # Given one pending draft and $16.40 spent of $20
    pending = a_draft(store, "New research report", created=NOW - timedelta(minutes=90))
    spend(store, posts=82)

    # When asked for JSON
    code, text, _ = status(path, "--json")

    # Then the same facts are fields a script can check
    report = json.loads(text)
    assert code == 0
    assert report["drafts"]["PENDING"] == 1
    assert report["oldest_pending"]["id"] == pending.id
    assert (report["posts_this_month"], report["spend_usd"], report["cap_usd"]) == (82, 16.4, 20.0)
    assert report["paused"] is False
    assert [f["id"] for f in report["feeds"]] == ["news", "events"]


def test_a_stack_that_does_not_exist_is_a_clear_error_not_a_traceback(deployed, aws):
    _, path = deployed
    # Given no stack of that name
    del aws.stack_outputs[STACK]

    # When the operator asks for its status
    out, err = io.StringIO(), io.StringIO()
    code = main(["status", "--stack", STACK, "--config", str(path)], out=out, err=err)

    # Then the command stops with one sentence naming the stack and what to check
    assert code == 2
    assert err.getvalue().startswith(f"hookline: there is no stack '{STACK}' in eu-west-2: check the name")
    assert "Traceback" not in err.getvalue()
    assert out.getvalue() == ""

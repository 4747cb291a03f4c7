"""local/streams.py applies template.yaml's DueNow filter as Lambda would: the records of the
changes that make a post due now match, and no other change does.

The records are the real engine's (DynamoDB Local's stream of a table created from the
template), written by the store's own transitions, so the filter is checked against what the
deployed table will send, not against hand-written JSON.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from hookline.models import State
from hookline.store import Move, Store
from local.streams import filter_patterns, matches, wanted
from tests.conftest import NOW
from tests.support.drafts import add_draft

PATTERNS = filter_patterns()


@pytest.fixture
def streamed(dynamodb_local, clock):
    """A store on a table with the template's stream, and a reader of its records."""
    from local.streams import StreamTrigger

    name = dynamodb_local.create_table(streams=True)
    store = Store(name, client=dynamodb_local.client(), clock=clock)
    seen: list[dict] = []
    reader = StreamTrigger(dynamodb_local.client(), dynamodb_local.streams_client(), name, lambda e: None)
    reader.patterns = [{}]  # every record: the test applies the template's filter itself
    reader.handler = lambda event: seen.extend(event["Records"])
    reader.open()

    def records() -> list[dict]:
        seen.clear()
        reader.poll_once()
        return list(seen)

    yield store, records
    dynamodb_local.client().delete_table(TableName=name)


def draft_records(records: list[dict], draft_id: str) -> list[dict]:
    return [r for r in records if r["dynamodb"]["Keys"]["pk"]["S"] == f"DRAFT#{draft_id}"]


def test_the_template_filters_the_draft_the_delivery_and_the_pause_changes():
    assert len(PATTERNS) == 3
    assert all(p["eventName"] == ["MODIFY"] for p in PATTERNS)


def test_approving_and_retrying_match_and_nothing_else_a_draft_goes_through_does(streamed):
    store, records = streamed
    draft = add_draft(store, NOW)
    created = records()
    # a new draft (and its audit entry) starts nothing
    assert len(created) == 2 and not any(wanted(r, PATTERNS) for r in created)

    approved = store.transition(draft, Move(State.APPROVED, actor="a", action="approve"))
    [audit, change] = sorted(draft_records(records(), draft.id), key=lambda r: r["eventName"])
    assert audit["eventName"] == "INSERT" and not wanted(audit, PATTERNS)
    assert change["eventName"] == "MODIFY" and wanted(change, PATTERNS)  # approve: due now

    claimed = store.transition(approved, Move(State.PUBLISHING, actor="publisher", action="publish attempt"))
    backoff = store.transition(
        claimed, Move(State.APPROVED, actor="publisher", action="retry later",
        changes={"not_before": NOW + timedelta(minutes=5)})
    )  # fmt: skip
    assert not any(wanted(r, PATTERNS) for r in records())  # claimed, and put back with a backoff

    claimed = store.transition(backoff, Move(State.PUBLISHING, actor="publisher", action="publish attempt"))
    failed = store.transition(claimed, Move(State.FAILED, actor="publisher", action="failed"))
    assert not any(wanted(r, PATTERNS) for r in records())

    store.transition(failed, Move(State.APPROVED, actor="a", action="retry"))
    assert [r["eventName"] for r in records() if wanted(r, PATTERNS)] == ["MODIFY"]  # retry: due now


def test_only_an_approvers_retry_of_one_networks_delivery_matches(streamed):
    store, records = streamed
    draft = add_draft(store, NOW)
    store.create_delivery(draft.id, "mastodon", {"text": draft.text, "retries": 0}, now=NOW)
    assert not any(wanted(r, PATTERNS) for r in records())  # opened at approval: the draft's change starts it

    delivery = store.delivery(draft.id, "mastodon")
    claimed = store.move_delivery(delivery, "PUBLISHING", now=NOW, changes={"attempt": {"id": "a1"}})
    backoff = store.move_delivery(claimed, "APPROVED", now=NOW, changes={"not_before": "later"})
    claimed = store.move_delivery(backoff, "PUBLISHING", now=NOW, changes={"attempt": {"id": "a2"}})
    failed = store.move_delivery(claimed, "FAILED", now=NOW, changes={"failure": "refused"})
    assert not any(wanted(r, PATTERNS) for r in records())  # the publisher's own moves

    store.move_delivery(failed, "APPROVED", now=NOW, remove=["failure"])
    kept = [r for r in records() if wanted(r, PATTERNS)]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in kept] == [
        ("MODIFY", "NETWORK#mastodon")
    ]
    # and the publisher it starts runs every network's due deliveries, naming no X draft
    from functions.publish.app import due_now, from_stream

    assert from_stream({"Records": kept}) and due_now({"Records": kept}) == []


def test_rejecting_withdrawing_and_publishing_match_nothing(streamed):
    store, records = streamed
    rejected = add_draft(store, NOW, identity="rejected")
    store.transition(rejected, Move(State.REJECTED, actor="a", action="reject"))
    withdrawn = store.transition(
        add_draft(store, NOW, identity="withdrawn"), Move(State.APPROVED, actor="a", action="approve")
    )
    records()  # the approval above matched; what follows must not
    store.transition(withdrawn, Move(State.REJECTED, actor="a", action="withdraw"))
    assert not any(wanted(r, PATTERNS) for r in records())


def test_resuming_matches_and_pausing_or_a_first_switch_does_not(streamed):
    store, records = streamed
    store.set_pause(False, by="a", reason=None, now=NOW)  # the first write of the switch: an INSERT
    store.set_pause(True, by="a", reason="crisis", now=NOW)
    assert not any(wanted(r, PATTERNS) for r in records())
    store.set_pause(True, by="b", reason="still a crisis", now=NOW)  # paused again, still paused
    assert not any(wanted(r, PATTERNS) for r in records())
    store.set_pause(False, by="a", reason=None, now=NOW)
    kept = [r for r in records() if wanted(r, PATTERNS)]
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in kept] == ["PAUSE"]


def test_the_matcher_follows_lambdas_rules_for_lists_objects_and_missing_keys():
    record = {"eventName": "MODIFY", "dynamodb": {"Keys": {"sk": {"S": "DRAFT"}}}}
    assert matches({"eventName": ["INSERT", "MODIFY"]}, record)  # a list is any of
    assert not matches({"eventName": ["INSERT"]}, record)
    assert matches({"dynamodb": {"Keys": {"sk": {"S": ["DRAFT"]}}}}, record)  # objects nest
    assert not matches({"dynamodb": {"NewImage": {"state": {"S": ["APPROVED"]}}}}, record)  # missing key
    assert matches({"dynamodb": {"NewImage": [{"exists": False}]}}, record)
    assert matches({"eventName": [{"anything-but": ["REMOVE"]}]}, record)
    assert not matches({"eventName": [{"anything-but": "MODIFY"}]}, record)
    assert matches({"eventName": [{"prefix": "MOD"}]}, record)
    with pytest.raises(ValueError, match="not supported"):
        matches({"eventName": [{"numeric": [">", 1]}]}, record)


def test_the_sample_stream_event_is_one_the_filter_keeps_and_names_its_draft():
    # events/publish_stream.json is what `sam local invoke PublishFunction -e ...` sends
    import json

    from functions.publish.app import due_now, from_stream
    from tests.support.paths import ROOT

    event = json.loads((ROOT / "events" / "publish_stream.json").read_text())
    assert all(wanted(record, PATTERNS) for record in event["Records"])
    assert from_stream(event) and due_now(event) == ["2537b44049a9248c49307dfdf332d78b"]
    assert not from_stream(json.loads((ROOT / "events" / "publish.json").read_text()))

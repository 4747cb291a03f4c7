"""The review and result pages read what they show in few requests: the draft with its history in
one Query, the pause, hold and pacing items in one BatchGetItem. Same answers as reading each item
on its own, and the approvals function is allowed every request it makes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine

from hookline.approval.review import expected_publish_at
from hookline.models import State
from hookline.store import Move, StateConflict
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.aws import load_template
from tests.support.drafts import add_draft, signer
from tests.support.events import api_event, call

CONFIG = make_config()  # window Mon-Fri 09:00-17:30 London, 60 minutes apart, at most 4 a day
MONTH, TODAY = "2026-11", "2026-11-25"


def reserve(store: Any, at: datetime) -> None:
    store.reserve_post(
        now=at,
        month=at.strftime("%Y-%m"),
        day=at.strftime("%Y-%m-%d"),
        cents=20,
        month_cap_cents=2000,
        daily_cap=10,
        spacing=timedelta(0),
    )


def approve(store: Any, draft: Any, at: datetime) -> Any:
    return store.transition(
        draft,
        Move(
            State.APPROVED,
            actor="Alex Morgan <alex@example.org>",
            action="approve",
            changes={"approved_at": at},
        ),
    )


# -- the draft with its history ------------------------------------------------------------------


def test_the_draft_comes_with_its_history_in_order_and_without_notification_markers(store, clock):
    # Given a draft that was notified and then approved
    draft = add_draft(store, NOW)
    store.mark_notified(draft.id, "email:alex@example.org", now=NOW)
    clock.advance(minutes=5)
    approved = approve(store, draft, clock())

    # When it is read with its history
    found, audit = store.draft_and_audit(draft.id)

    # Then it is the draft as it now stands, and its history is the one the audit query gives
    assert found == approved
    assert [a.action for a in audit] == ["queued", "approve"]
    assert audit == store.audit(draft.id)


def test_an_unknown_draft_has_no_history(store):
    assert store.draft_and_audit("0123456789abcdef0123456789abcdef") == (None, [])


# -- the controls at once ----------------------------------------------------------------------------


def test_the_controls_read_at_once_are_what_each_read_alone_gives(store):
    # Given publishing paused, an account hold, and a post already reserved today
    store.set_pause(True, by="Alex Morgan", reason="storm on the timeline", now=NOW)
    store.set_hold("account", "the tokens belong to @someone_else", now=NOW)
    reserve(store, NOW)

    # When the page reads them in one request
    controls = store.controls(MONTH, [TODAY, "2026-11-26"])

    # Then each is exactly what its own read says
    assert controls.pause == store.pause_state()
    assert controls.pause.paused is True
    assert controls.hold == store.get_control("HOLD")
    assert controls.last_post_at == store.last_post_at() == NOW
    assert controls.month == store.month_spend(MONTH)
    assert controls.posts_on(TODAY) == store.posts_on(TODAY) == 1
    assert controls.posts_on("2026-11-26") == 0
    # and a day it was not asked for is unknown, not zero
    assert controls.posts_on("2026-11-27") is None


def test_a_decisions_one_read_gives_the_draft_as_stored_and_the_same_controls(store):
    # Given a draft, publishing paused and a post today
    draft = add_draft(store, NOW)
    store.set_pause(True, by="Alex Morgan", reason="storm on the timeline", now=NOW)
    reserve(store, NOW)

    # When a decision reads the draft and the controls in its one request
    found, controls = store.draft_and_controls(draft.id, MONTH, [TODAY])

    # Then the draft is the stored one and the controls are those the page reads alone
    assert found == store.get_draft(draft.id)
    assert controls == store.controls(MONTH, [TODAY])
    # and an unknown draft is None, with the controls still read
    missing, same = store.draft_and_controls("no-such-draft", MONTH, [TODAY])
    assert missing is None and same.pause.paused is True


def test_on_a_new_table_nothing_holds_publishing(store):
    controls = store.controls(MONTH, [TODAY])
    assert controls.pause.paused is False
    assert controls.hold is None
    assert controls.last_post_at is None
    assert (controls.month.cents, controls.month.posts) == (0, 0)
    assert controls.posts_on(TODAY) == 0


@pytest.mark.parametrize(
    ("now", "posted_at", "posts_today"),
    [
        pytest.param(NOW + timedelta(minutes=5), NOW - timedelta(minutes=20), 1, id="waits-for-the-spacing"),
        pytest.param(
            NOW.replace(hour=19), NOW.replace(hour=11), 1, id="evening-so-tomorrow-is-read-on-its-own"
        ),
        pytest.param(NOW + timedelta(minutes=5), NOW - timedelta(hours=2), 4, id="todays-cap-is-spent"),
    ],
)
def test_the_expected_time_from_controls_read_at_once_is_the_same(store, now, posted_at, posts_today):
    # Given an approved draft, an earlier post and the day's count
    draft = approve(store, add_draft(store, NOW - timedelta(hours=1)), NOW - timedelta(minutes=30))
    reserve(store, posted_at)
    if posts_today > 1:
        store.client.put_item(
            TableName=store.table,
            Item={"pk": {"S": f"PACE#{TODAY}"}, "sk": {"S": "DAY"}, "posts": {"N": str(posts_today)}},
        )
    local = now.astimezone(CONFIG.organisation.tz)

    # When the page works it out from the controls it read at once
    controls = store.controls(local.strftime("%Y-%m"), [local.date().isoformat()])

    # Then it says what reading each item on its own says
    assert expected_publish_at(store, CONFIG, draft, now, controls) == expected_publish_at(
        store, CONFIG, draft, now
    )


# -- what the approvals function asks DynamoDB, and may ----------------------------------------------


def _allowed(function: str) -> set[str]:
    statements = load_template()["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    return {
        a.removeprefix("dynamodb:") for st in statements for a in st["Action"] if a.startswith("dynamodb:")
    }


def _iam_actions(operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions a request needs: a transaction needs those of the writes inside it."""
    if operation != "TransactWriteItems":
        return {operation}
    kinds = {
        "Put": "PutItem",
        "Update": "UpdateItem",
        "Delete": "DeleteItem",
        "ConditionCheck": "ConditionCheckItem",
    }
    return {kinds[kind] for item in params["TransactItems"] for kind in item}


def test_the_approvals_function_is_allowed_every_request_it_makes(lambda_env):
    handler = lambda_env.handler("approvals")
    store = lambda_env.store()
    links = signer(SIGNING_KEY)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        seen: set[str] = set()
        handler.services().store.client.meta.events.register(
            "before-parameter-build.dynamodb.*",
            lambda model, params, **_: seen.update(_iam_actions(model.name, params)),
        )
        first, second = add_draft(store, NOW), add_draft(store, NOW, identity="second")
        token = links.decide_token(first, "alex@example.org")
        other = links.decide_token(second, "alex@example.org")
        queue = links.queue_token("alex@example.org")

        # When an approver uses every route: review, edit and approve, withdraw, a refused
        # decision, reject, the queue, pause and resume
        answers = [
            call(handler, api_event("GET", f"/drafts/{first.id}?token={quote(token)}")),
            call(
                handler,
                api_event(
                    "POST",
                    f"/drafts/{first.id}",
                    {"token": token, "action": "approve", "text": f"Edited {first.text}"},
                ),
            ),
            call(handler, api_event("POST", f"/drafts/{first.id}", {"token": token, "action": "withdraw"})),
            call(handler, api_event("POST", f"/drafts/{first.id}", {"token": token, "action": "approve"})),
            call(handler, api_event("POST", f"/drafts/{second.id}", {"token": other, "action": "reject"})),
            call(handler, api_event("GET", f"/queue?token={quote(queue)}")),
            call(
                handler,
                api_event("POST", "/controls/pause", {"token": queue, "action": "pause", "reason": "storm"}),
            ),
            call(handler, api_event("POST", "/controls/resume", {"token": queue, "action": "resume"})),
        ]
        # and a decision that loses the race to another approver's (its transaction is refused)
        third = add_draft(store, NOW, identity="third")
        store.transition(third, Move(State.REJECTED, actor="Sam Patel <sam@example.org>", action="reject"))
        with pytest.raises(StateConflict) as lost:
            handler.services().store.write_transition(
                third, Move(State.APPROVED, actor="Alex Morgan <alex@example.org>", action="approve")
            )
        assert lost.value.draft is not None and lost.value.draft.state is State.REJECTED

        # and the page of an approval held until tomorrow (X's rate limit), so its expected time
        # is worked out from another day's posts than the ones read with the controls
        fourth = add_draft(store, NOW, identity="fourth")
        store.transition(
            fourth,
            Move(
                State.APPROVED,
                actor="Alex Morgan <alex@example.org>",
                action="approve",
                changes={
                    "approved_at": NOW,
                    "decided_by": "Alex Morgan",
                    "decided_at": NOW,
                    "not_before": NOW + timedelta(days=1),
                },
            ),
        )
        held = links.decide_token(fourth, "alex@example.org")
        tomorrow = call(handler, api_event("GET", f"/drafts/{fourth.id}?token={quote(held)}"))
    assert "Expected to go out at about Thu 26 Nov 2026, 10:00 GMT" in tomorrow["body"]

    # Then every answer is the one the approver expects
    assert [a["statusCode"] for a in answers] == [200, 200, 200, 409, 200, 200, 200, 200]
    # and the function's IAM policy allows every request it made
    assert {"Query", "BatchGetItem", "UpdateItem", "PutItem"} <= seen
    assert seen <= _allowed("ApprovalsFunction")


def test_the_result_page_history_shows_the_decision_just_made(lambda_env):
    handler = lambda_env.handler("approvals")
    draft = add_draft(lambda_env.store(), NOW)
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        token = signer(SIGNING_KEY).decide_token(draft, "alex@example.org")
        page = call(handler, api_event("POST", f"/drafts/{draft.id}", {"token": token, "action": "approve"}))
    assert page["statusCode"] == 200
    assert "approve by Alex Morgan &lt;alex@example.org&gt; (pending → approved)" in page["body"]
    # the history before it is on the review page; the decision's page does not read it
    assert "This decision (the review page shows the whole history)" in page["body"]
    assert "queued by" not in page["body"]


# -- a decision's page shows the decision without reading the draft back ---------------------------


@pytest.mark.parametrize(
    ("start", "to", "action", "changes", "remove", "text_after"),
    [
        pytest.param(
            State.PENDING, State.APPROVED, "edit and approve", "edit", (), "edited", id="edit-and-approve"
        ),
        pytest.param(State.FAILED, State.APPROVED, "retry", "retry", ("failure",), None, id="retry"),
        pytest.param(State.APPROVED, State.REJECTED, "withdraw", "decided", (), None, id="withdraw"),
    ],
)
def test_the_written_draft_and_audit_entry_are_what_the_table_then_holds(
    store, clock, start, to, action, changes, remove, text_after
):
    # Given a draft in the state a decision starts from
    draft = add_draft(store, NOW, state=start, failure="X refused: 403" if start is State.FAILED else None)
    clock.advance(minutes=5)
    text = f"Edited: {draft.text}" if text_after else None
    fields = {
        "edit": {
            "decided_by": "Alex Morgan",
            "decided_at": clock(),
            "approved_at": clock(),
            "text": text,
            "weighted_length": 99,
        },
        "retry": {
            "decided_by": "Alex Morgan",
            "decided_at": clock(),
            "not_before": clock(),
            "approved_at": clock(),
        },
        "decided": {"decided_by": "Alex Morgan", "decided_at": clock()},
    }[changes]

    # When the decision is written without reading it back
    after, entry = store.write_transition(
        draft,
        Move(
            to,
            actor="Alex Morgan <alex@example.org>",
            action=action,
            changes=fields,
            remove=remove,
            reason="looks right",
            text_after=text,
        ),
    )

    # Then the draft and audit entry it hands back are exactly what a read of the table gives
    stored, audit = store.draft_and_audit(draft.id)
    assert after == stored
    assert after.state is to and after.version == draft.version + 1
    assert entry == audit[-1]
    assert (entry.action, entry.from_state, entry.to_state, entry.reason) == (
        action,
        start,
        to,
        "looks right",
    )

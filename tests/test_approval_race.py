"""Fifty approvers press at once: exactly one decision stands, everyone else is told who won.

Each request runs in its own copy of the approvals function, as it would in its own
Lambda container, so nothing but DynamoDB's conditional write keeps them apart.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
import time_machine

from hookline.models import State
from hookline.store import StateConflict
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import add_draft, signer
from tests.support.events import api_event, call
from tests.support.paths import ROOT

REQUESTS = 50


def container(n: int) -> ModuleType:
    """A fresh copy of functions/approvals/app.py: its own resolver, services and DynamoDB client."""
    spec = importlib.util.spec_from_file_location(
        f"approvals_container_{n}", ROOT / "functions/approvals/app.py"
    )
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.services()  # a warm container: clients built before the rush, as after earlier requests
    return module


def test_fifty_concurrent_decisions_on_one_draft_give_one_success_and_49_conflicts(lambda_env):
    with time_machine.travel(NOW + timedelta(minutes=5), tick=True):
        store = lambda_env.store()
        draft = add_draft(store, NOW)
        links = signer(SIGNING_KEY)
        approvers = ["alex@example.org", "sam@example.org"]
        forms = [
            {
                "token": links.decide_token(draft, approvers[i % 2]),
                "action": "approve" if i % 3 else "reject",
            }
            for i in range(REQUESTS)
        ]
        containers = [container(i) for i in range(REQUESTS)]
        start = threading.Barrier(REQUESTS)

        def press(i: int) -> dict[str, Any]:
            event = api_event("POST", f"/drafts/{draft.id}", forms[i])
            start.wait()
            return call(containers[i], event)

        # When all fifty press at the same moment
        with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
            answers = list(pool.map(press, range(REQUESTS)))

    # Then exactly one succeeded and every other one was told it was already decided
    statuses = Counter(a["statusCode"] for a in answers)
    assert statuses == {200: 1, 409: REQUESTS - 1}
    winner = forms[next(i for i, a in enumerate(answers) if a["statusCode"] == 200)]
    final = store.get_draft(draft.id)
    assert final.state is (State.APPROVED if winner["action"] == "approve" else State.REJECTED)
    decided = "approved" if final.state is State.APPROVED else "rejected"
    for answer in answers:
        if answer["statusCode"] == 409:
            assert f"This draft was already {decided} by {final.decided_by} at" in answer["body"]
    # And the history holds exactly one decision
    assert [a.action for a in store.audit(draft.id)] == ["queued", winner["action"]]


def conflicting(store: Any, *, then: Any = None) -> Any:
    """Make DynamoDB cancel the next transaction as TransactionConflict (another transaction on the
    item), after running `then` (what the other transaction did)."""
    real = store.client.transact_write_items
    calls = []

    def transact(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            if then:
                then()
            error = {
                "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
            }
            raise store.client.exceptions.TransactionCanceledException(error, "TransactWriteItems")
        return real(**kwargs)

    store.client.transact_write_items = transact
    return calls


def test_a_transaction_conflict_with_a_decision_that_won_is_a_state_conflict(store):
    # Given a decision that meets another one in flight, which wins
    draft = add_draft(store, NOW)
    rival = store.get_draft(draft.id)

    def rival_approves() -> None:  # its own write goes through: only the first call is cancelled
        store.transition(
            rival,
            State.APPROVED,
            actor="Sam Patel <sam@example.org>",
            action="approve",
            changes={"decided_by": "Sam Patel"},
        )

    conflicting(store, then=rival_approves)

    # Then the loser is told who decided, like any other late decision
    with pytest.raises(StateConflict) as lost:
        store.transition(draft, State.REJECTED, actor="Alex Morgan <alex@example.org>", action="reject")
    assert lost.value.draft.decided_by == "Sam Patel"
    assert store.get_draft(draft.id).state is State.APPROVED


def test_a_transaction_conflict_with_something_else_is_retried(store):
    # Given a transaction cancelled by an unrelated write on the item (the draft is still pending)
    draft = add_draft(store, NOW)
    calls = conflicting(store)

    # When the decision is made, it is retried and goes through
    decided = store.transition(
        draft, State.APPROVED, actor="Alex Morgan <alex@example.org>", action="approve"
    )
    assert decided.state is State.APPROVED
    assert len(calls) == 2

"""X failing at every point of publishing, alone and in pairs, then the scheduled runs go on.

X is intercepted at requests' transport and behaves like X: a request that reached it
creates the post even when the answer is lost, and the same text posted again is
refused as duplicate content (tests/support/x.py). Its timeline (`x_api.created`) is the
truth each case is judged against: every approved draft on it exactly once, or FAILED
with X's reason for a person to see; never twice, never recorded wrongly.
"""

from __future__ import annotations

import contextlib
import itertools
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import NOW
from tests.reliability.system import (
    Findings,
    check_published,
    publish_run,
    reset_clock,
    reset_x,
    settle,
    spend_drift,
)
from tests.support.publishing import UNPACED, approved

pytestmark = pytest.mark.slow

RESET = str(int((NOW + timedelta(minutes=15)).timestamp()))
OUTCOMES: dict[str, Any] = {
    # before the request is sent
    "unreachable": "unreachable",
    # after X received it (and created the post): the answer is lost
    "timeout": "timeout",
    "reset": "reset",
    # X's limits
    "429 rate limit": (
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests"},
        {"x-rate-limit-reset": RESET},
    ),
    "429 usage cap": (
        429,
        {
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "type": "https://api.twitter.com/2/problems/usage-capped",
        },
        {"x-rate-limit-reset": RESET},
    ),
    "402 no credit": (402, {"title": "CreditsDepleted", "detail": "No credits left", "type": "about:blank"}),
    # X's own failures (it may or may not have posted)
    "500": (500, {"title": "Internal Server Error", "detail": "Internal Server Error"}),
    "502": (502, {"title": "Bad Gateway", "detail": "Bad Gateway"}),
    "503": (503, {"title": "Service Unavailable", "detail": "Service Unavailable"}),
    # credentials
    "401": (401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}),
    "403 read-only app": (
        403,
        {
            "title": "Unsupported Authentication",
            "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
            "type": "https://api.twitter.com/2/problems/oauth1-permissions",
        },
    ),
    # X refuses this post
    "403 duplicate": "duplicate",
    "403 refused": (
        403,
        {"title": "Forbidden", "detail": "This post violates our rules.", "type": "about:blank"},
    ),
    "400": (
        400,
        {"title": "Invalid Request", "detail": "One or more parameters to your request was invalid."},
    ),
}
# One answer of each kind that leads to another try (not sent; sent and created; sent, not
# created; X's two limits; credentials): every pair of them is tried. The others of a kind
# (reset, 502, 503, 402, read-only) behave as their kind, and are tried alone.
RETRIED = ["unreachable", "timeout", "500", "429 rate limit", "429 usage cap", "401"]
AMBIGUOUS = ["timeout", "reset", "500"]
ACCOUNT_CHECK = {
    "unreachable": "unreachable",
    "timeout": "timeout",
    "401": (401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}),
    "503": (503, {"title": "Service Unavailable", "detail": "Service Unavailable"}),
    "429": (429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": RESET}),
}


def sequences() -> list[tuple[str, ...]]:
    singles = [(k,) for k in OUTCOMES]
    pairs = list(itertools.product(RETRIED, repeat=2))
    triples = list(itertools.product(AMBIGUOUS, repeat=3))
    return [*singles, *pairs, *triples, ("timeout",) * 5, ("503",) * 5]


@pytest.mark.scenario("X failure at every point of publishing")
def test_every_x_failure_alone_and_in_sequence_ends_with_each_draft_posted_once(system, x_api, ledger):
    system.configure(**UNPACED)
    services = system.services()
    store = services.store
    month = NOW.strftime("%Y-%m")
    total = Findings()
    cases = 0
    drift = 0
    runs: list[int] = []

    def case(create: tuple[Any, ...] = (), me: tuple[Any, ...] = ()) -> Findings:
        nonlocal drift
        system.wipe()
        reset_clock(system.clock)
        reset_x(x_api)
        # Given two approved drafts
        drafts = [
            approved(store, "New research report on river quality", at=NOW - timedelta(hours=2)),
            approved(store, "Annual review of the wetland project", at=NOW - timedelta(hours=1)),
        ]
        # When X answers the next requests as scripted (then normally), and the runs go on
        x_api.then(*create)
        x_api.me_then(*me)
        with contextlib.suppress(Exception):  # a failed run is retried by the schedule
            publish_run(services)
        runs.append(1 + settle(services, at_least=0))
        found = check_published(store, x_api, drafts)
        for sent in x_api.sent:
            auth = sent.headers.get("Authorization", "")
            if 'oauth_token="at-test"' not in auth:
                found.unsafe.append(f"a request to X without the corporate account's token: {sent.url}")
        spent = spend_drift(store, x_api, month)
        if spent < 0:
            found.state_changes.append(f"spend counted {-spent} cents less than X billed")
        drift += max(spent, 0)
        return found

    for sequence in sequences():
        scripted = tuple(OUTCOMES[name] for name in sequence)
        total.add(case(create=scripted), prefix=f"[create: {' then '.join(sequence)}] ")
        cases += 1
    for name, answer in ACCOUNT_CHECK.items():
        total.add(case(me=(answer,)), prefix=f"[account check: {name}] ")
        cases += 1

    if drift:
        total.notes["cents reserved for attempts X may have billed (ambiguous answers)"] += drift
    ledger.record(
        cases,
        total,
        note=f"{len(OUTCOMES)} answers ({', '.join(OUTCOMES)}) to the first create request; every pair of "
        f"{', '.join(RETRIED)} (one of each kind that leads to another try); every triple of {', '.join(AMBIGUOUS)}; five timeouts and "
        f"five 503s in a row (retries spent); {len(ACCOUNT_CHECK)} failures of the account check. Two approved "
        f"drafts per case, judged against X's timeline; scheduled runs until nothing was waiting: "
        f"median {sorted(runs)[len(runs) // 2]}, most {max(runs)}",
    )
    assert total.clean, total.summary()

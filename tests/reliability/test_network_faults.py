"""Bluesky and Mastodon failing at every call their adapters make, the publisher killed at every
point of a run, and two publishers at once: each approved draft ends on each network exactly once,
or FAILED with the server's reason; never twice, never left waiting.

Bluesky is the real PDS (@atproto/dev-env); Mastodon the fake at the HTTP transport that keeps
statuses and honours Idempotency-Key as the server does, within the key's lifetime. A case's
texts are its own, and its clock starts where the last case's ended, so each case's posts and
record keys are told apart on a server that keeps them all.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from hookline.clock import parse_iso
from hookline.store import Store
from tests.conftest import NOW
from tests.reliability.faults import Killed, Tripwire
from tests.reliability.networks import AMBIGUOUS, KINDS, Faulty, Server, check, config_for, run
from tests.reliability.system import Findings, killed_at_every_point, reset_clock
from tests.reliability.test_kills_and_races import Skewed, together
from tests.support.mastodon import MastodonFake
from tests.support.publishing import approved

pytestmark = pytest.mark.slow

NETWORKS = ("bluesky", "mastodon")
# One of each kind of second failure (never sent; sent and stored; sent, not stored; a limit).
THEN = ("unreachable", "timeout after storing", "500", "429 rate limit")
LABEL = {"bluesky": "Bluesky", "mastodon": "Mastodon"}


def scenario(title: str) -> list[Any]:
    return [
        pytest.param(n, marks=pytest.mark.scenario(title.format(network=LABEL[n])), id=n) for n in NETWORKS
    ]


@pytest.fixture
def server(request: pytest.FixtureRequest, clock: Any) -> Server:
    name = request.node.callspec.params["name"]
    if name == "bluesky":
        return Server(name, pds=request.getfixturevalue("pds"))
    return Server(name, fake=MastodonFake(clock=clock))


class Cases:
    """One network's cases on one table: each case from a clean table and its own moment."""

    def __init__(self, system: Any, server: Server) -> None:
        self.system, self.server = system, server
        self.config = config_for(server.name, server.pds)
        self.count = 0

    def begin(self) -> Store:
        self.count += 1
        self.system.wipe()
        # Its own moment: a record key (a TID of the first attempt's time) is never another case's.
        reset_clock(self.system.clock, NOW + timedelta(days=self.count))
        if self.server.fake is not None:
            self.server.fake.forget_keys()
        return self.system.store()

    def drafts(self, store: Store, n: int, tag: str) -> list[Any]:
        now = self.system.clock.now
        return [
            approved(
                store,
                f"Report {self.count}-{k} {tag} on the state of the river",
                at=now - timedelta(hours=k + 1),
            )
            for k in range(n)
        ]

    def settle(self, store: Store, network: Any, *, max_runs: int = 40) -> int:
        """The publisher on its schedule until no delivery is open (past backoffs and limits)."""
        clock = self.system.clock
        for runs in range(1, max_runs + 1):
            if not store.open_deliveries(self.server.name):
                return runs - 1
            clock.advance(minutes=7)
            with contextlib.suppress(Exception):  # a failed run is the next run's to recover
                run(store, network, self.config, clock.now)
            wait_out(store, self.server.name, clock)
        return max_runs


def wait_out(store: Store, name: str, clock: Any) -> None:
    """Move the clock to the end of the earliest backoff or rate limit a delivery waits for."""
    waits = []
    for draft_id in store.open_deliveries(name):
        delivery = store.delivery(draft_id, name) or {}
        if delivery.get("not_before"):
            waits.append(parse_iso(delivery["not_before"]))
    if waits and min(waits) > clock.now:
        clock.now = min(waits)


# -- a fault at every call -------------------------------------------------------------------


def one_case(cases: Cases, faults: dict[int, str], *, late: bool = False) -> tuple[Findings, int, list[str]]:
    """Two drafts posted in one run (on Bluesky a third after the session has aged, so the
    token is renewed); `faults` break those numbered requests. `late`: the server forgets its idempotency
    keys and the retries come after the key's lifetime."""
    store = cases.begin()
    clock = cases.system.clock
    http = cases.server.transport(clock)
    network = cases.server.adapter(cases.config, store, http, clock)
    before = cases.server.texts()
    http.script(faults)
    drafts = cases.drafts(store, 2, "first")
    with contextlib.suppress(Exception):
        run(store, network, cases.config, clock.now)
    if late and cases.server.fake is not None:
        clock.advance(minutes=61)
        cases.server.fake.forget_keys()
    cases.settle(store, network)
    if cases.server.name == "bluesky":
        clock.advance(hours=3)  # past the access token's renewal time: refreshSession
        drafts += cases.drafts(store, 1, "later")
        with contextlib.suppress(Exception):
            run(store, network, cases.config, clock.now)
        cases.settle(store, network)
    found, made = check(store, cases.server, before, drafts, cases.server.name)
    return found, made, list(http.calls)


@pytest.mark.parametrize("name", scenario("{network} failure at every call of publishing"))
def test_a_failure_at_every_call_of_an_adapter_posts_each_draft_once(name, system, server, ledger):
    cases = Cases(system, server)
    clean, made, calls = one_case(cases, {})
    assert clean.clean and made == (3 if name == "bluesky" else 2), (clean.summary(), made, calls)
    total, posts, tried = Findings(), made, 1
    plans: list[tuple[dict[int, str], bool, str]] = []
    for at, call in enumerate(calls, start=1):
        for kind in KINDS:
            plans.append(({at: kind}, False, f"{kind} at {call}"))
            if name == "mastodon" and kind in AMBIGUOUS:
                plans.append(({at: kind}, True, f"{kind} at {call}, retried past the key's lifetime"))
    # A second fault on the request after an ambiguous create (the retry, or the lookup)
    creates = [at for at, call in enumerate(calls, start=1) if "putRecord" in call or "statuses" in call]
    for kind in AMBIGUOUS:
        for then in THEN:
            plans.append(({creates[0]: kind, creates[0] + 1: then}, False, f"{kind} then {then}"))
            if name == "mastodon" and kind == AMBIGUOUS[0]:
                # past the key's lifetime the next request is the look among recent statuses
                plans.append(({creates[0]: kind, creates[0] + 1: then}, True, f"{kind} then {then}, late"))
            if name == "bluesky":
                # the retry's putRecord finds the record (InvalidSwap); the next request looks it up
                plans.append(
                    ({creates[0]: kind, creates[0] + 2: then}, False, f"{kind}, then {then} at the look")
                )
    for faults, late, what in plans:
        found, made, _ = one_case(cases, faults, late=late)
        total.add(found, prefix=f"[{what}] ")
        posts += made
        tried += 1
    ledger.record(
        tried,
        total,
        note=f"{len(calls)} requests in a clean case ({', '.join(calls)}): 2 approved drafts in one run"
        + (", a third 3 hours later" if name == "bluesky" else "")
        + f"; each request broken in turn as {', '.join(KINDS)}"
        + (
            "; each ambiguous one also retried after the server forgot its Idempotency-Keys (61 min)"
            if name == "mastodon"
            else ""
        )
        + f"; every ambiguous failure of the first create followed by each of {', '.join(THEN)} at the next "
        "request (the retry, or Mastodon's look among recent statuses) "
        + (
            "and at Bluesky's look at the record key after the retry's InvalidSwap"
            if name == "bluesky"
            else ""
        )
        + "; "
        f"judged against the server's own posts; posts made: {posts}",
    )
    assert total.clean, total.summary()


# -- killed at every point ---------------------------------------------------------------------


class Between(Tripwire):
    """Dies after any write or around any network request: between every pair of store writes.
    (Dying before a read is dying after what came before it: nothing happens in between.)"""

    def point(self, name: str) -> None:
        if name.startswith("before dynamodb."):
            return
        super().point(name)


@pytest.mark.parametrize("name", scenario("{network} publish run killed at every call, then run again"))
def test_a_publisher_killed_at_any_point_posts_each_draft_once_when_the_schedule_runs_again(
    name, system, server, monkeypatch, x_api, ledger
):
    cases = Cases(system, server)
    wire = Between()
    posts = 0

    def case(at: int) -> tuple[Findings, list[str], str | None]:
        nonlocal posts
        wire.disarm()
        store = cases.begin()
        clock = cases.system.clock
        before = cases.server.texts()
        drafts = cases.drafts(store, 2, "kill")
        http = cases.server.transport(clock, wire)
        network = cases.server.adapter(cases.config, store, http, clock)
        # When the publish run dies at point `at` (before or after any AWS call or request)
        wire.arm(at)
        with contextlib.suppress(Killed, Exception):
            run(store, network, cases.config, clock.now)
        points, fired = list(wire.points), wire.fired
        wire.disarm()
        # And the schedule runs again in a new container (a dead attempt's lease expires)
        fresh = cases.server.adapter(cases.config, store, cases.server.transport(clock), clock)
        cases.settle(store, fresh)
        found, made = check(store, cases.server, before, drafts, name)
        posts += made
        return found, points, fired

    with wire.installed(monkeypatch, x_api):
        total, points = killed_at_every_point(case)
    network_points = [p for p in points if f" {name} " in p]
    ledger.record(
        len(points),
        total,
        note=f"a run posting 2 approved drafts has {len(points)} points where the function can die ("
        f"{len(network_points)} around {LABEL[name]}'s requests: {', '.join(network_points)}; the rest "
        "after each DynamoDB write); killed at each, then the scheduled runs until "
        f"nothing is waiting; posts made: {posts}",
    )
    assert total.clean, total.summary()


# -- two at once -------------------------------------------------------------------------------

ROUNDS = 8


@pytest.mark.parametrize("name", scenario("Two publishers at once on {network}"))
def test_two_publishers_at_once_post_each_draft_once_whatever_the_network_answers(
    name, system, server, ledger
):
    rng = random.Random(16)
    cases = Cases(system, server)
    total, posts, answered = Findings(), 0, Counter[str]()
    for round_ in range(ROUNDS):
        store = cases.begin()
        clock = cases.system.clock
        before = cases.server.texts()
        drafts = cases.drafts(store, 3, "together")
        # Two containers: their own DynamoDB clients, adapters, transports and (skewed) clocks
        skewed = Skewed(clock, timedelta(milliseconds=7))
        other = Store(system.table, client=system.new_client(), clock=skewed)
        https: list[Faulty] = [cases.server.transport(clock), cases.server.transport(skewed)]
        for http in https:
            faults = {at: rng.choice(KINDS) for at in range(1, 7) if rng.random() < 0.4}
            answered.update(faults.values())
            http.script(faults)
        a = cases.server.adapter(cases.config, store, https[0], clock)
        b = cases.server.adapter(cases.config, other, https[1], skewed)
        for runs in range(30):
            if runs and not store.open_deliveries(name):
                break  # (the first run opens the deliveries)
            together(
                functools.partial(run, store, a, cases.config, clock.now),
                functools.partial(run, other, b, cases.config, skewed()),
                jitter=0.02,
                rng=rng,
            )
            clock.advance(minutes=7)
            wait_out(store, name, clock)
        found, made = check(store, cases.server, before, drafts, name)
        posts += made
        total.add(found, prefix=f"[round {round_}] ")
    ledger.record(
        ROUNDS,
        total,
        note=f"{ROUNDS} rounds of two publish functions (their own clients, adapters and clocks 7 ms apart) "
        f"running together at every scheduled run on 3 approved drafts, each of the first 6 requests of "
        f"either broken at random ({sum(answered.values())} faults: "
        + ", ".join(f"{k} x {v}" for k, v in sorted(answered.items()))
        + f"); posts made: {posts}",
    )
    assert total.clean, total.summary()


# -- record keys -------------------------------------------------------------------------------


def test_two_deliveries_first_tried_in_one_run_get_their_own_record_keys(system, pds, monkeypatch):
    # Given two approved drafts, first tried in the same run (the same moment), and a TID clock
    # id that comes out the same for both (1 chance in 1,024 for any two deliveries of a run)
    monkeypatch.setattr("hookline.publish.networks.bluesky.secrets.randbelow", lambda n: 7)
    server = Server("bluesky", pds=pds)
    cases = Cases(system, server)
    cases.count = 10_000  # a moment of its own, far from the scenarios'
    store = cases.begin()
    clock = system.clock
    before = server.texts()
    drafts = cases.drafts(store, 2, "same moment")
    network = server.adapter(cases.config, store, server.transport(clock), clock)

    # When one run posts both
    run(store, network, cases.config, clock.now)

    # Then each is its own post on Bluesky, at its own record key, and recorded so
    found, made = check(store, server, before, drafts, "bluesky")
    assert found.clean and made == 2, found.summary()
    keys = {store.delivery(d.id, "bluesky")["record_key"] for d in drafts}
    assert len(keys) == 2

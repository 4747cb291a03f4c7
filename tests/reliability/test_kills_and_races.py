"""A function killed mid-run and run again; two pollers and two publishers at once.

A kill is a BaseException raised at a numbered point: before every AWS call and X
request, and after every write, email, message and X request (the work was done, then
the container died). No `except Exception` of hookline's sees it, so nothing is cleaned
up: leases stay taken, markers unwritten. Then the schedule runs the function again.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections import Counter
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from aws_lambda_powertools.utilities import parameters

from hookline.models import State
from tests.conftest import NOW, SIGNING_KEY
from tests.reliability.faults import Killed, Tripwire
from tests.reliability.system import (
    Feed,
    Findings,
    add_stale_pending,
    check_poll,
    check_publish_run,
    check_published,
    killed_at_every_point,
    poller,
    publish_run,
    reset_clock,
    reset_x,
    settle,
    spend_drift,
    wipe,
)
from tests.reliability.test_dynamodb_faults import (
    MINUTES,
    OLD,
    PARTNER,
    PARTNER_OLD,
    REPORT,
    poll_feeds,
    serve,
)
from tests.support.drafts import add_draft, signer
from tests.support.events import api_event, call
from tests.support.feeds import Item, page
from tests.support.publishing import UNPACED, approved

pytestmark = pytest.mark.slow


def two_feeds(system: Any, web: Any) -> list[Feed]:
    feeds = poll_feeds(web)
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    for item in (REPORT, MINUTES, OLD, PARTNER, PARTNER_OLD):
        web.add(f"/news/{item.slug}", page(item.title))
    system.configure(
        feeds=[
            {"id": "news", "url": web.url("/news.xml")},
            {"id": "partner", "url": web.url("/partner.xml"), "source": "partner", "partner": "River Trust"},
        ],
        polling={"concurrency": 1},
    )
    return feeds


@pytest.mark.scenario("Poll killed at every call, then run again")
def test_a_poll_killed_at_any_point_loses_nothing_once_it_runs_again(
    system, web, aws, x_api, monkeypatch, ledger
):
    feeds = two_feeds(system, web)
    services = system.services()
    run = poller(services)
    wire = Tripwire()

    def case(at: int) -> tuple[Findings, list[str], str | None]:
        system.wipe()
        reset_clock(system.clock)
        aws.calls.clear()
        parameters.clear_caches()
        serve(web, feeds, system.clock.now, new=False)
        wire.disarm()
        run.poll_all()
        # When the poll that reads new entries dies at point `at`
        serve(web, feeds, system.clock.now, new=True)
        system.clock.advance(minutes=5)
        wire.arm(at)
        with contextlib.suppress(Killed):
            run.poll_all()
        points, fired = list(wire.points), wire.fired
        wire.disarm()
        # And the next two scheduled polls run
        for _ in range(2):
            system.clock.advance(minutes=5)
            run.poll_all()
        return check_poll(system.store(), aws, feeds, web.base_url, system.clock.now), points, fired

    with wire.installed(monkeypatch, x_api):
        total, points = killed_at_every_point(case)

    ledger.record(
        len(points),
        total,
        note=f"the poll of 2 feeds with 3 new entries has {len(points)} points where the function can die "
        "(before each AWS call; after each write, email and SNS message); killed at each, then two polls",
    )
    assert total.clean, total.summary()


@pytest.mark.scenario("Publish run killed at every call, then run again")
def test_a_publish_run_killed_at_any_point_posts_each_draft_once_when_the_schedule_runs_again(
    system, aws, x_api, monkeypatch, ledger
):
    system.configure(**UNPACED)
    services = system.services()
    store = services.store
    month = NOW.strftime("%Y-%m")
    wire = Tripwire()

    def arrange() -> list[Any]:
        drafts = [
            approved(store, "New research report on river quality", at=NOW - timedelta(hours=2)),
            approved(store, "Annual review of the wetland project", at=NOW - timedelta(hours=1)),
        ]
        add_stale_pending(store)
        return drafts

    def case(at: int) -> tuple[Findings, list[str], str | None]:
        system.wipe()
        reset_clock(system.clock)
        reset_x(x_api)
        parameters.clear_caches()
        wire.disarm()
        drafts = arrange()
        # When the publish run dies at point `at`
        wire.arm(at)
        with contextlib.suppress(Killed):
            publish_run(services)
        points, fired = list(wire.points), wire.fired
        wire.disarm()
        # And the schedule runs it again until nothing is waiting (a dead attempt's lease expires)
        settle(services)
        found, _ = check_publish_run(
            store,
            x_api,
            drafts,
            month,
            held_back="cents held for attempts cut off by a kill (over-counted, never over the cap)",
        )
        return found, points, fired

    with wire.installed(monkeypatch, x_api):
        total, points = killed_at_every_point(case)

    ledger.record(
        len(points),
        total,
        note=f"a publish run (expire a stale draft, read the X secret, check the account, post 2) has "
        f"{len(points)} points where the function can die, including just before X is called and just "
        "after X created the post; killed at each, then the scheduled runs until nothing is waiting",
    )
    assert total.clean, total.summary()


class InlineReads:
    """The approval room's readers, run in the caller's thread in the order they are asked for."""

    @staticmethod
    def submit(read: Any, *args: Any) -> Future[Any]:
        # A kill inside the read ends the call at once, as the process's death would.
        future: Future[Any] = Future()
        future.set_result(read(*args))
        return future


@pytest.mark.scenario("Approval killed at every call, then pressed again")
def test_an_approval_killed_at_any_point_stands_once_when_the_approver_presses_again(
    lambda_env, x_api, monkeypatch, ledger
):
    handler = lambda_env.handler("approvals")
    store = lambda_env.store()
    links = signer(SIGNING_KEY)
    wire = Tripwire()
    # A decision reads the draft and the approved queue at once; which reaches the tripwire first
    # is the scheduler's choice, so here they run one after the other and each kill point is the
    # same call in every case (a busy machine reordered them and numbered the points differently).
    monkeypatch.setattr("hookline.approval.decisions.readers", InlineReads)
    monkeypatch.setattr("hookline.approval.base.readers", InlineReads)
    found = Findings()
    answers: Counter[int] = Counter()

    def case(at: int) -> tuple[list[str], str | None]:
        wipe(store.client, store.table)
        draft = add_draft(store, NOW)
        form = {"token": links.decide_token(draft, "alex@example.org"), "action": "approve"}
        # When the approvals function dies at point `at` of the approver's press
        wire.arm(at)
        with contextlib.suppress(Killed):
            call(handler, api_event("POST", f"/drafts/{draft.id}", form))
        points, fired = list(wire.points), wire.fired
        wire.disarm()
        # And the approver, seeing an error page, presses again
        again = call(handler, api_event("POST", f"/drafts/{draft.id}", form))
        answers[again["statusCode"]] += 1
        # Then the draft is approved once, by Alex, and the second press was told so (or did it)
        stored = store.get_draft(draft.id)
        decisions = [a.action for a in store.audit(draft.id) if a.action != "queued"]
        if stored.state is not State.APPROVED or stored.decided_by != "Alex Morgan":
            found.lost.append(f"[killed {fired}] the approval did not stand: {stored.state}")
        if decisions != ["approve"]:
            found.duplicated.append(f"[killed {fired}] the history holds {decisions}")
        if again["statusCode"] not in (200, 409):
            found.state_changes.append(f"[killed {fired}] pressing again got {again['statusCode']}")
        return points, fired

    with time_machine.travel(NOW + timedelta(minutes=5), tick=False), wire.installed(monkeypatch, x_api):
        points, _ = case(0)
        for at in range(1, len(points) + 1):
            _, fired = case(at)
            assert fired == points[at - 1], (at, fired, points[at - 1])

    ledger.record(
        len(points),
        found,
        note=f"an approver's press has {len(points)} points where the approvals function can die (before each "
        "AWS call, after each write); killed at each, then the approver pressed again (answers: "
        + ", ".join(f"{n} x {s}" for s, n in sorted(answers.items()))
        + ")",
    )
    assert found.clean, found.summary()


# -- two at once ---------------------------------------------------------------------------------


def together(*calls: Any, jitter: float = 0.0, rng: random.Random | None = None) -> list[Any]:
    """Run the calls in threads released at the same moment (plus a little jitter)."""
    barrier = threading.Barrier(len(calls), timeout=30)
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []
    delays = [(rng or random).uniform(0, jitter) for _ in calls]

    def run(i: int) -> None:
        barrier.wait()
        threading.Event().wait(delays[i])
        try:
            results[i] = calls[i]()
        except Exception as exc:  # a failed run is the schedule's to retry; kept for the report
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        results.append(errors)
    return results


ROUNDS = 12


class Skewed:
    """Another container's clock: the shared test clock, a little ahead."""

    def __init__(self, clock: Any, ahead: timedelta) -> None:
        self.clock, self.ahead = clock, ahead

    def __call__(self) -> Any:
        return self.clock() + self.ahead


@pytest.mark.scenario("Two pollers and two publishers at once")
def test_two_pollers_at_once_draft_each_entry_once(system, web, aws, ledger):
    # Given three feeds, each with three new entries in every round, and two poll functions
    # (separate containers: separate clients) started at the same moment
    rng = random.Random(8)
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    feeds = []
    for n in range(3):
        significant = [Item(f"Research report {n}-{k} on the river", f"r{n}-{k}") for k in range(2)]
        routine = [Item(f"Minutes of meeting {n}", f"m{n}", category="Minutes")]
        history = [Item(f"Old report {n}", f"old{n}", age=timedelta(days=40))]
        feeds.append(Feed(f"feed{n}", f"/feed{n}.xml", significant, routine, history))
        for item in [*significant, *routine, *history]:
            web.add(f"/news/{item.slug}", page(item.title))
    system.configure(feeds=[{"id": f.id, "url": web.url(f.path)} for f in feeds])
    # (the second container's clock runs a few milliseconds apart, as two machines' clocks do)
    skewed = Skewed(system.clock, timedelta(milliseconds=7))
    first, second = poller(system.services()), poller(system.services(system.new_client(), skewed))
    total = Findings()
    drafted_total = 0
    for round_ in range(ROUNDS):
        system.wipe()
        reset_clock(system.clock)
        aws.calls.clear()
        serve(web, feeds, system.clock.now, new=False)
        first.poll_all()
        serve(web, feeds, system.clock.now, new=True)
        system.clock.advance(minutes=5)
        # When both poll at once (a slow run overlapping the next scheduled one)
        reports = together(first.poll_all, second.poll_all, jitter=0.03, rng=rng)
        system.clock.advance(minutes=5)
        first.poll_all()  # the next scheduled poll finishes anything a failed write left
        # Then each significant entry is one draft, queued once, whoever won it
        found = check_poll(system.store(), aws, feeds, web.base_url, system.clock.now)
        drafted = sum(r.drafted for r in reports[:2] if r is not None)
        drafted_total += drafted
        if drafted != 6:
            found.duplicated.append(f"the two polls together created {drafted} drafts for 6 new entries")
        total.add(found, prefix=f"[round {round_}] ")
    ledger.record(
        ROUNDS,
        total,
        note=f"{ROUNDS} rounds of two poll functions started together (0-30 ms apart) on 3 feeds with 6 "
        f"significant and 3 routine new entries; {drafted_total} drafts made between them",
    )
    assert total.clean, total.summary()


@pytest.mark.scenario("Two pollers and two publishers at once")
def test_two_publishers_at_once_post_each_draft_once_whatever_x_answers(system, x_api, ledger):
    # Given four approved drafts per round, and two publish functions running at the same moment
    # every scheduled run, while X answers some requests badly
    rng = random.Random(6)
    system.configure(**UNPACED)
    a, b = system.services(), system.services(system.new_client())
    store = a.store
    month = NOW.strftime("%Y-%m")
    answers = ["ok", "ok", "ok", "timeout", "reset", "unreachable", (503, {"title": "Service Unavailable"})]
    total = Findings()
    created = 0
    for round_ in range(ROUNDS):
        system.wipe()
        reset_clock(system.clock)
        reset_x(x_api)
        drafts = [
            approved(store, f"Report {round_}-{n} on the state of the river", at=NOW - timedelta(hours=4 - n))
            for n in range(4)
        ]
        x_api.then(*[rng.choice(answers) for _ in range(6)])
        # When both publishers run together at each scheduled time until nothing is waiting
        for _ in range(30):
            if not (store.drafts_in(State.APPROVED) or store.drafts_in(State.PUBLISHING)):
                break
            together(lambda: publish_run(a), lambda: publish_run(b), jitter=0.02, rng=rng)
            system.clock.advance(minutes=7)
        # Then X has each draft exactly once, and the table agrees
        found = check_published(store, x_api, drafts)
        drift = spend_drift(store, x_api, month)
        if drift < 0:
            found.state_changes.append(f"spend counted {-drift} cents less than X billed")
        created += len(x_api.created)
        total.add(found, prefix=f"[round {round_}] ")
    ledger.record(
        ROUNDS,
        total,
        note=f"{ROUNDS} rounds of two publish functions running together at every scheduled run on 4 approved "
        f"drafts, X answering 6 requests at random from ok, timeout, reset, unreachable and 503; "
        f"{created} posts created on X",
    )
    assert total.clean, total.summary()

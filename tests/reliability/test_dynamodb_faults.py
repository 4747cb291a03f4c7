"""DynamoDB failing at every write of a poll and of a publish run, every way a write can fail,
injected inside botocore; then the system runs again on its own schedule.

For each kind of failure (throttled, timed out before or after DynamoDB applied the write,
applied and then sent again by botocore's retry, a failed condition) and each write N of a
clean run, the same run is repeated with write N failing, then the functions run again
until they settle. Afterwards nothing may be lost and nothing done twice.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest

from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW
from tests.reliability.faults import KINDS, Injector
from tests.reliability.system import (
    Feed,
    Findings,
    add_stale_pending,
    check_poll,
    check_publish_run,
    poller,
    publish_run,
    reset_clock,
    reset_x,
    settle,
)
from tests.support.feeds import Item, page, rss
from tests.support.publishing import UNPACED, approved

pytestmark = pytest.mark.slow

REPORT = Item("New research report: river quality in the Fens", "river-quality")
MINUTES = Item("Minutes of the November board meeting", "board-minutes", category="Minutes")
OLD = Item("Annual report 2025", "annual-report-2025", age=timedelta(days=40))
PARTNER = Item("Partner research: wetland birds return to the Ouse", "wetland-birds", category="Research")
PARTNER_OLD = Item("Partner report 2024", "partner-2024", age=timedelta(days=60))


def poll_feeds(web):  # type: ignore[no-untyped-def]
    return [
        Feed("news", "/news.xml", significant=[REPORT], routine=[MINUTES], history=[OLD]),
        Feed("partner", "/partner.xml", significant=[PARTNER], history=[PARTNER_OLD]),
    ]


def serve(web, feeds, now, *, new: bool) -> None:  # type: ignore[no-untyped-def]
    for feed in feeds:
        items = feed.items() if new else feed.history
        web.add(feed.path, rss(web.base_url, items, now))


@pytest.mark.scenario("DynamoDB failure at every write of a poll")
def test_a_failure_at_any_write_of_a_poll_loses_no_entry_and_drafts_none_twice(system, web, aws, ledger):
    # Given an own feed and a partner feed, polled by one function container (one feed at a time,
    # so write N is the same write in every case), with the linked pages online
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
    services = system.services()
    faults = Injector(services.store.client)
    run = poller(services)

    def case(kind: str | None, at: int) -> tuple[Findings, list[str], str | None]:
        system.wipe()
        reset_clock(system.clock)
        aws.calls.clear()
        serve(web, feeds, system.clock.now, new=False)
        faults.disarm()
        run.poll_all()  # first sight: the feeds' history is baselined
        # When the feeds publish new entries and write `at` of the next poll fails
        serve(web, feeds, system.clock.now, new=True)
        system.clock.advance(minutes=5)
        faults.arm(kind, at)
        with contextlib.suppress(Exception):  # the function fails; its next scheduled run is the retry
            run.poll_all()
        writes, fired = list(faults.seen), faults.fired
        faults.disarm()
        # And the next two scheduled polls run clean
        for _ in range(2):
            system.clock.advance(minutes=5)
            run.poll_all()
        # Then every entry is handled exactly once
        found = check_poll(system.store(), aws, feeds, web.base_url, system.clock.now)
        # and a further poll finds nothing new and tells nobody again
        before = len(aws.calls)
        system.clock.advance(minutes=5)
        again = run.poll_all()
        if again.drafted or len(aws.calls) != before:
            found.duplicated.append(f"a settled feed drafted {again.drafted} and notified again")
        return found, writes, fired

    clean, writes, _ = case(None, 0)
    assert clean.clean, clean.summary()
    conditional = list(faults.conditional)
    assert writes, "a poll with new entries writes"

    total = Findings()
    cases = 0
    for kind in KINDS:
        count = len(conditional) if kind == "conditional" else len(writes)
        for at in range(1, count + 1):
            found, _, fired = case(kind, at)
            assert fired is not None, f"write {at} of {count} was never reached ({kind})"
            total.add(found, prefix=f"[{kind} at write {at}: {fired}] ")
            cases += 1

    ledger.record(
        cases,
        total,
        note=f"a poll of 2 feeds with 3 new entries (2 to draft, 1 to skip) makes {len(writes)} writes: "
        + ", ".join(writes)
        + f"; each failed in turn as: {', '.join(KINDS)}; then two clean polls",
    )
    assert total.clean, total.summary()


@pytest.mark.scenario("DynamoDB failure at every write of a publish run")
def test_a_failure_at_any_write_of_a_publish_run_posts_each_draft_exactly_once(system, aws, x_api, ledger):
    # Given two approved drafts, a third whose publisher died mid-attempt an hour ago, and a
    # pending draft past its expiry: a run that recovers, expires, checks the account and posts
    system.configure(**UNPACED)
    services = system.services()
    faults = Injector(services.store.client)
    store = services.store
    month = NOW.strftime("%Y-%m")

    def arrange() -> list:  # type: ignore[type-arg]
        first = approved(store, "New research report on river quality", at=NOW - timedelta(hours=2))
        second = approved(store, "Annual review of the wetland project", at=NOW - timedelta(hours=1))
        third = approved(store, "Open letter on the water bill", at=NOW - timedelta(hours=3))
        died_at = NOW - timedelta(hours=1)
        # (the dead run had reserved the post's spend, as every attempt does before calling X)
        store.reserve_post(
            now=died_at,
            month=month,
            day=died_at.strftime("%Y-%m-%d"),
            cents=20,
            month_cap_cents=10_000,
            daily_cap=50,
            spacing=timedelta(0),
        )
        claimed = store.transition(
            third,
            Move(
                State.PUBLISHING,
                actor="publisher",
                action="publish attempt",
                changes={"attempt": {"id": "dead-run", "started_at": died_at.isoformat()}},
            ),
        )
        assert claimed.state is State.PUBLISHING
        add_stale_pending(store)
        return [first, second, third]

    def case(kind: str | None, at: int) -> tuple[Findings, list[str], str | None, int]:
        system.wipe()
        reset_clock(system.clock)
        reset_x(x_api)
        faults.disarm()
        drafts = arrange()
        # When write `at` of the publish run fails
        faults.arm(kind, at)
        # (the run fails into the dead-letter queue; the next run recovers)
        with contextlib.suppress(Exception):
            publish_run(services)
        writes, fired = list(faults.seen), faults.fired
        faults.disarm()
        # And the next scheduled runs go on until nothing is waiting
        settle(services)
        found, drift = check_publish_run(
            store,
            x_api,
            drafts,
            month,
            held_back="cents held back after a lost answer (over-counted spend, never over the cap)",
        )
        return found, writes, fired, drift

    clean, writes, _, _ = case(None, 0)
    assert clean.clean, clean.summary()
    conditional = list(faults.conditional)

    total = Findings()
    cases = 0
    for kind in KINDS:
        count = len(conditional) if kind == "conditional" else len(writes)
        for at in range(1, count + 1):
            found, _, fired, _ = case(kind, at)
            assert fired is not None, f"write {at} of {count} was never reached ({kind})"
            total.add(found, prefix=f"[{kind} at write {at}: {fired}] ")
            cases += 1

    ledger.record(
        cases,
        total,
        note=f"a publish run (take over a dead attempt, expire a stale draft, check the account, post 3) "
        f"makes {len(writes)} writes: "
        + ", ".join(writes)
        + f"; each failed in turn as: {', '.join(KINDS)}; "
        "then the scheduled runs continue until nothing is waiting",
    )
    assert total.clean, total.summary()

"""Polls against DynamoDB Local and a real local web server: what gets drafted, skipped, held,
recorded and reported, feed by feed."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml

from hookline.config import Config
from hookline.models import Draft, State
from hookline.ops.cli import main
from hookline.poll.fetch import Fetcher
from hookline.poll.run import Poller
from hookline.store import Store
from local.webserver import Resource, WebServer
from tests.conftest import Clock, _merge, base_config_data, make_config
from tests.support.feeds import Item, page, rss

REPORT = Item("New research report: river quality in the Fens", "river-quality")
MINUTES = Item("Minutes of the November board meeting", "board-minutes", category="Minutes")
OLD = Item("Annual report 2025", "annual-report-2025", age=timedelta(days=40))
WRITES = {
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "BatchExecuteStatement",
}


class Notified:
    """Records the drafts approvers were told about (the Notifier itself is tested with SES)."""

    def __init__(self) -> None:
        self.drafts: list[Draft] = []

    def new_draft(self, draft: Draft, now: Any, *, reminder: bool = False) -> list[str]:
        self.drafts.append(draft)
        return ["test"]


def feed_config(web: WebServer, *feeds: tuple[str, str], **polling: Any) -> Config:
    return make_config(
        feeds=[{"id": feed_id, "url": web.url(path)} for feed_id, path in feeds],
        polling={"concurrency": 4, **polling},
    )


def poller(config: Config, store: Store, clock: Clock, notifier: Notified | None = None) -> Poller:
    return Poller(config, store, Fetcher.for_polling(config.polling), notifier or Notified(), clock)


def serve(web: WebServer, path: str, items: list[Item], clock: Clock) -> str:
    for item in items:
        if item.link is None:
            web.add(f"/news/{item.slug}", page(item.title))
    return web.add(path, rss(web.base_url, items, clock.now))


def table(store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    items = store.client.scan(TableName=store.table)["Items"]
    return {(i["pk"]["S"], i["sk"]["S"]): i for i in items}


def count_writes(store: Store) -> list[str]:
    writes: list[str] = []

    def before(model: Any, **_: Any) -> None:
        if model.name in WRITES:
            writes.append(model.name)

    store.client.meta.events.register("before-call.dynamodb", before)
    return writes


def test_first_sight_baselines_then_a_new_significant_entry_is_drafted_and_the_rest_skipped_with_reasons(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a feed seen for the first time, with history in it
    serve(web, "/news.xml", [OLD], clock)
    notified = Notified()
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock, notified)

    first = poll.poll_all()

    # Then its history is baselined: nothing drafted, nobody told
    assert first.feeds[0].status == "baselined (first sight)"
    assert first.feeds[0].baselined == 1
    assert store.drafts_in(State.PENDING) == []
    assert notified.drafts == []

    # When a significant report and routine minutes appear
    clock.advance(minutes=5)
    serve(web, "/news.xml", [REPORT, MINUTES, OLD], clock)
    second = poll.poll_all()

    # Then the report is one pending draft the approvers were told about, with its reason
    assert second.drafted == 1
    [draft] = store.drafts_in(State.PENDING)
    assert draft.title == REPORT.title
    assert draft.reason == "category 'Report' matched 'Report' (rule 'publications')"
    assert [d.id for d in notified.drafts] == [draft.id]
    # And the minutes are skipped, with the reason kept for a while (TTL), not forgotten
    [skip] = store.skips("news")
    assert skip["title"] == MINUTES.title
    assert skip["reason"] == "excluded keyword 'Minutes' matched 'minutes' (rule 'publications')"
    assert skip["ttl"] == int((clock.now + timedelta(days=30)).timestamp())
    # And a third poll of the unchanged feed drafts nothing more
    clock.advance(minutes=5)
    assert poll.poll_all().drafted == 0
    assert len(store.drafts_in(State.PENDING)) == 1


def test_a_304_costs_no_parse_and_only_the_poll_record_write(
    web: WebServer, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a feed polled twice (baselined, then read with nothing new)
    serve(web, "/news.xml", [REPORT], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()
    clock.advance(minutes=5)
    poll.poll_all()
    before = table(store)
    state_before = store.feed_state("news")
    assert state_before is not None
    assert state_before.etag

    # When it is polled again and the server answers 304
    def no_parse(*_: Any, **__: Any) -> None:
        raise AssertionError("a 304 must not be parsed")

    monkeypatch.setattr("hookline.poll.feeds.parse_feed", no_parse)
    writes = count_writes(store)
    clock.advance(minutes=5)
    report = poll.poll_all()

    # Then the request was conditional, nothing was parsed, and one write recorded the poll
    assert report.feeds[0].status == "not modified"
    assert web.requests_for("/news.xml")[-1]["If-None-Match"] == state_before.etag
    assert writes == ["UpdateItem"]
    after = table(store)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {("FEEDS", "NOT_MODIFIED")}
    assert after[("FEEDS", "NOT_MODIFIED")]["nm#news"]["S"].startswith(clock.now.strftime("%Y-%m-%dT%H:%M"))
    # And the feed's record reads as polled and successful just now
    state = store.feed_state("news")
    assert state is not None
    assert state.last_poll == clock.now
    assert state.last_success == clock.now
    assert state.failure_streak == 0
    assert state.etag == state_before.etag


def test_hostile_and_broken_feeds_each_give_one_clear_error_while_the_good_feeds_are_drafted(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given one good feed and one of every kind of broken site, all baselined while healthy
    latin1 = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Caf\xe9 culture: new research report</title><link>%s/news/cafe</link><guid>cafe</guid>"
        b"<category>Report</category><pubDate>%s</pubDate></item></channel></rss>"
    )
    names = ["good", "drip", "huge", "loop", "file", "ftp", "html", "gone", "encoding", "xss"]
    for name in names:
        serve(web, f"/{name}.xml", [OLD], clock)
    config = feed_config(web, *[(n, f"/{n}.xml") for n in names], fetch_timeout_seconds=1.5, concurrency=8)
    notified = Notified()
    poll = poller(config, store, clock, notified)
    poll.poll_all()

    # When each breaks in its own way (and the good one publishes a report)
    clock.advance(minutes=5)
    serve(web, "/good.xml", [REPORT, OLD], clock)
    web.add("/drip.xml", Resource(body=rss(web.base_url, [REPORT], clock.now), drip=0.05))
    web.add("/huge.xml", Resource(endless=50_000_000))
    web.add("/loop.xml", Resource(redirect="/loop2.xml"))
    web.add("/loop2.xml", Resource(redirect="/loop.xml"))
    web.add("/file.xml", Resource(redirect="file:///etc/passwd"))
    web.add("/ftp.xml", Resource(redirect="ftp://ftp.example.org/feed.xml"))
    web.add(
        "/html.xml",
        Resource(body=b"<!doctype html><html><body>Log in</body></html>", content_type="text/html"),
    )
    web.add("/gone.xml", Resource(body=b"gone", status=410))
    pub = rss(web.base_url, [REPORT], clock.now).split(b"<pubDate>")[1].split(b"</pubDate>")[0]
    web.add("/encoding.xml", latin1 % (web.base_url.encode(), pub))
    web.add("/news/cafe", page("Café culture"))
    xss = Item("<script>alert(1)</script>Open data report <img src=x onerror=alert(2)>", "xss-report")
    serve(web, "/xss.xml", [xss, OLD], clock)
    started = time.monotonic()
    report = poll.poll_all()
    elapsed = time.monotonic() - started

    # Then every broken feed has exactly one clear error of its own
    errors = {f.feed_id: f.error for f in report.failed}
    url = web.url
    assert errors == {
        "drip": f"could not fetch {url('/drip.xml')}: gave up after 1.5s (the server is too slow)",
        "huge": f"could not fetch {url('/huge.xml')}: larger than the 5 MB limit; stopped reading at 5 MB",
        "loop": f"could not fetch {url('/loop.xml')}: redirect loop: {url('/loop2.xml')} redirects back to {url('/loop.xml')}",
        "file": f"could not fetch {url('/file.xml')}: redirected to a 'file' URL (file:///etc/passwd), which is not allowed (only http and https)",
        "ftp": f"could not fetch {url('/ftp.xml')}: redirected to a 'ftp' URL (ftp://ftp.example.org/feed.xml), which is not allowed (only http and https)",
        "html": f"{url('/html.xml')} is not a readable feed: the server sent an HTML page, not a feed (has the feed moved, or is it a login page?)",
        "gone": f"could not fetch {url('/gone.xml')}: HTTP 410 Gone",
    }
    # And the good feeds' drafts were made: the report, the mis-encoded one read anyway, and the
    # hostile title cleaned to plain text
    titles = sorted(d.title for d in store.drafts_in(State.PENDING))
    assert titles == sorted([REPORT.title, "Café culture: new research report", "Open data report"])
    assert len(notified.drafts) == 3
    encoding = next(f for f in report.feeds if f.feed_id == "encoding")
    assert encoding.ok
    assert encoding.problem
    assert encoding.problem.startswith("wrong character encoding")
    # And one slow site did not hold up the poll
    assert elapsed < 6
    assert all(store.feed_state(n).failure_streak == 1 for n in errors)  # type: ignore[union-attr]


def test_a_feed_failing_three_polls_in_a_row_alarms_and_recovers(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a feed that breaks after being baselined
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()
    web.add("/news.xml", Resource(body=b"down", status=503))

    # When it fails three polls in a row
    streaks = []
    for _ in range(3):
        clock.advance(minutes=5)
        report = poll.poll_all()
        streaks.append(report.feeds[0].failure_streak)

    # Then the streak counts up and the third poll alarms (polling.failure_alarm_after = 3)
    assert streaks == [1, 2, 3]
    assert [f.feed_id for f in report.alarming(3)] == ["news"]
    assert poll.poll_all().alarming(3)  # still alarming on the fourth
    state = store.feed_state("news")
    assert state is not None
    assert state.last_error == f"could not fetch {web.url('/news.xml')}: HTTP 503 Service Unavailable"

    # And when it recovers, the streak and the error are cleared
    serve(web, "/news.xml", [OLD], clock)
    clock.advance(minutes=5)
    assert poll.poll_all().alarming(3) == []
    state = store.feed_state("news")
    assert state is not None
    assert state.failure_streak == 0
    assert state.last_error is None
    assert state.last_success == clock.now


def test_a_feed_whose_url_changes_is_baselined_again_instead_of_reposting_its_history(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a feed polled at its old address
    serve(web, "/old.xml", [OLD], clock)
    poller(feed_config(web, ("news", "/old.xml")), store, clock).poll_all()

    # When the site moves to a new CMS whose feed has new guids and more history, and the config follows
    clock.advance(minutes=5)
    moved = [
        Item(f"Archive item {i}: research report", f"archive-{i}", guid=f"new-cms-{i}") for i in range(30)
    ]
    serve(web, "/new.xml", [REPORT, *moved], clock)
    report = poller(feed_config(web, ("news", "/new.xml")), store, clock).poll_all()

    # Then its current entries become history: nothing drafted, nothing held
    assert report.feeds[0].status == "baselined (feed URL changed)"
    assert report.drafted == 0
    assert report.held == []
    assert store.drafts_in(State.PENDING) == []
    state = store.feed_state("news")
    assert state is not None
    assert state.url == web.url("/new.xml")


def test_a_sudden_flood_of_new_entries_is_held_and_reported_not_drafted(
    web: WebServer, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a baselined feed and a limit of 5 new entries per poll
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml"), max_new_entries=5), store, clock)
    poll.poll_all()

    # When the site migrates and its feed suddenly has 8 entries nobody has seen
    flood = [Item(f"Research report {i}", f"r-{i}") for i in range(8)]
    serve(web, "/news.xml", [*flood, OLD], clock)
    caplog.set_level(logging.WARNING, logger="hookline")
    reports = []
    for _ in range(2):
        clock.advance(minutes=5)
        reports.append(poll.poll_all())

    # Then nothing is drafted, the hold is reported in the poll, the record and the log (once)
    assert [r.drafted for r in reports] == [0, 0]
    held = reports[-1].feeds[0].held
    assert held is not None
    assert held.startswith("8 new entries in one poll (limit 5): held")
    assert "python -m hookline rebaseline news" in held
    state = store.feed_state("news")
    assert state is not None
    assert state.held == held
    assert [r.message for r in caplog.records if r.message == "feed held"] == ["feed held"]
    # And the entries are not marked seen while held: nothing is lost if a person releases them
    assert store.drafts_in(State.PENDING) == []


def test_a_cms_that_rewrites_guids_and_adds_tracking_does_not_repost(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a report already drafted
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()
    clock.advance(minutes=5)
    serve(web, "/news.xml", [REPORT, OLD], clock)
    assert poll.poll_all().drafted == 1

    # When the CMS rewrites every guid and decorates links (case, trailing slash, utm_*)
    clock.advance(minutes=5)
    rewritten = Item(
        REPORT.title,
        REPORT.slug,
        guid="https://cms.example.org/?p=991",
        link=web.base_url.upper().replace("HTTP", "http")
        + f"/news/{REPORT.slug}/?utm_source=rss&utm_medium=feed",
    )
    serve(web, "/news.xml", [rewritten, OLD], clock)
    report = poll.poll_all()

    # Then nothing new is drafted
    assert report.drafted == 0
    assert report.feeds[0].skipped == 0
    assert len(store.drafts_in(State.PENDING)) == 1


def test_events_are_found_in_any_feed_and_one_that_has_started_is_never_drafted(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a publications feed, baselined
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()

    # When it carries an event with a start date in the feed (no 'Report' category), one
    # whose start is only on its page (JSON-LD, local time), and one that has already started
    clock.advance(minutes=5)
    in_feed = Item(
        "Open evening: the Fens report",
        "open-evening",
        category="Events",
        event_start=clock.now + timedelta(days=3),
        venue="Guildhall, Cambridge",
    )
    on_page = Item("Spring lecture", "spring-lecture", category="Events")
    started = Item(
        "Morning walk", "morning-walk", category="Events", event_start=clock.now - timedelta(hours=1)
    )
    serve(web, "/news.xml", [in_feed, on_page, started, OLD], clock)
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Event",
            "startDate": "2026-12-02T18:30",
            "location": {
                "@type": "Place",
                "name": "Corn Exchange",
                "address": {"addressLocality": "Cambridge"},
            },
        }
    )
    web.add("/news/spring-lecture", page("Spring lecture", jsonld=jsonld))
    report = poll.poll_all()

    # Then both future events are drafted as events, each expiring when it starts
    drafts = {d.title: d for d in store.drafts_in(State.PENDING)}
    assert set(drafts) == {in_feed.title, on_page.title}
    feed_event = drafts[in_feed.title]
    assert feed_event.kind == "event"
    assert feed_event.event is not None
    assert feed_event.event.start == in_feed.event_start
    assert feed_event.event.venue == "Guildhall, Cambridge"
    assert feed_event.expires_at == in_feed.event_start
    page_event = drafts[on_page.title]
    assert page_event.event is not None
    assert page_event.event.start.isoformat() == "2026-12-02T18:30:00+00:00"  # London, no summer time
    assert page_event.event.venue == "Corn Exchange, Cambridge"
    # Why it was queued names the start as the approvers read it, in the organisation's time
    assert page_event.reason == "an event starting Wed 2 Dec 2026, 18:30 GMT (rule 'publications')"
    # And the one under way is skipped with that reason
    [skip] = store.skips("news")
    assert skip["title"] == "Morning walk"
    assert skip["reason"].startswith("the event started ")
    assert skip["reason"].endswith("(already under way)")
    assert report.drafted == 2


def test_the_linked_page_is_fetched_only_for_entries_it_could_change(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a baselined feed
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()

    # When it gets a report (drafted), minutes (excluded: no event date could change that) and
    # an uncategorised post (skipped unless its page says it is an event)
    clock.advance(minutes=5)
    plain = Item("Our new office", "new-office", category="")
    serve(web, "/news.xml", [REPORT, MINUTES, plain, OLD], clock)
    poll.poll_all()

    # Then the report's page was checked once, the minutes' page never, the plain post's once
    assert len(web.requests_for(f"/news/{REPORT.slug}")) == 1
    assert web.requests_for(f"/news/{MINUTES.slug}") == []
    assert len(web.requests_for(f"/news/{plain.slug}")) == 1
    [draft] = store.drafts_in(State.PENDING)
    assert draft.preflight is not None
    assert draft.preflight["ok"] is True


def test_a_slow_feed_never_blocks_the_others_and_the_poll_ends_within_its_budget(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given two feeds that have become very slow and four fast ones, polled three at a time
    names = ["slow1", "slow2", "a", "b", "c", "d"]
    for name in names:
        serve(web, f"/{name}.xml", [OLD], clock)
    config = feed_config(web, *[(n, f"/{n}.xml") for n in names], concurrency=3)
    poll = poller(config, store, clock)
    poll.poll_all()
    for name in ("slow1", "slow2"):
        web.add(f"/{name}.xml", Resource(body=rss(web.base_url, [OLD], clock.now), delay=30))
    for name in "abcd":
        serve(web, f"/{name}.xml", [Item(f"Research report {name}", f"report-{name}"), OLD], clock)

    # When the poll has 2 seconds (what the function has left, less a margin)
    clock.advance(minutes=5)
    started = time.monotonic()
    report = poll.poll_all(time_budget=2)
    elapsed = time.monotonic() - started

    # Then it returns about on time, the slow feeds say why, and the fast feeds were drafted
    assert elapsed < 2 + 3.5
    by_id = {f.feed_id: f for f in report.feeds}
    assert set(by_id) == set(names)
    assert {n for n, f in by_id.items() if not f.ok} == {"slow1", "slow2"}
    assert all("the poll's time ran out" in (by_id[n].error or "") for n in ("slow1", "slow2"))
    assert report.drafted == 4


def test_a_slow_feed_costs_one_worker_its_own_timeout_and_is_polled_last_next_time(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a feed that takes 30 s to answer among three fast ones, one worker, 1 s per fetch
    names = ["slow", "a", "b", "c"]
    for name in names:
        serve(web, f"/{name}.xml", [OLD], clock)
    config = feed_config(web, *[(n, f"/{n}.xml") for n in names], concurrency=1, fetch_timeout_seconds=1)
    poll = poller(config, store, clock)
    poll.poll_all()
    web.add("/slow.xml", Resource(body=rss(web.base_url, [OLD], clock.now), delay=30))

    # When it is polled first (all were polled at the same time last)
    clock.advance(minutes=5)
    started = time.monotonic()
    report = poll.poll_all()

    # Then it costs its own timeout and the others are polled after it
    assert time.monotonic() - started < 1 + 2
    assert [f.feed_id for f in report.failed] == ["slow"]
    # And the next poll puts the failing feed last, behind the healthy ones
    web.requests.clear()
    clock.advance(minutes=5)
    poll.poll_all()
    order = [path for path, _ in web.requests if path.endswith(".xml")]
    assert order == ["/a.xml", "/b.xml", "/c.xml", "/slow.xml"]


def test_a_malformed_feed_is_used_and_its_problem_logged_once_not_every_poll(
    web: WebServer, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a feed with an undefined entity that feedparser recovers from
    body = rss(web.base_url, [OLD], clock.now).replace(b"<description>", b"<description>&nbsp;")
    web.add("/news.xml", Resource(body=body, etag=False))
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    caplog.set_level(logging.WARNING, logger="hookline")

    # When it is polled three times (no ETag: read in full each time)
    for _ in range(3):
        report = poll.poll_all()
        clock.advance(minutes=5)

    # Then it works, the problem shows in every report and the record, and is logged once
    assert report.feeds[0].ok
    assert report.feeds[0].problem
    assert report.feeds[0].problem.startswith("malformed XML")
    logged = [r for r in caplog.records if r.message == "feed is malformed; using the entries recovered"]
    assert len(logged) == 1
    state = store.feed_state("news")
    assert state is not None
    assert state.problem == report.feeds[0].problem


def test_a_server_that_answers_304_to_everything_is_a_failure_not_a_silent_success(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a misconfigured server that answers 304 even when nothing was asked conditionally
    web.add("/news.xml", Resource(body=b"", status=304, etag=False))
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)

    # When a feed on it is seen for the first time
    report = poll.poll_all()

    # Then that is a clear failure (otherwise the feed would never be read at all)
    assert report.feeds[0].error == (
        f"could not fetch {web.url('/news.xml')}: HTTP 304 to a request that was not conditional"
    )
    assert report.feeds[0].failure_streak == 1


def test_an_event_its_page_calls_off_is_skipped_with_that_reason_by_the_poll_and_by_preview(
    web: WebServer, store: Store, clock: Clock, tmp_path: Path
) -> None:
    # Given a baselined feed
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()

    # When it announces a talk whose page (schema.org JSON-LD) says it is cancelled
    clock.advance(minutes=5)
    talk = Item("Evening talk: the Fens report", "evening-talk", category="Events")
    serve(web, "/news.xml", [talk, OLD], clock)
    jsonld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "Event",
            "startDate": (clock.now + timedelta(days=5)).isoformat(),
            "eventStatus": "https://schema.org/EventCancelled",
            "location": {"@type": "Place", "name": "Guildhall"},
        }
    )
    web.add(f"/news/{talk.slug}", page(talk.title, jsonld=jsonld))
    report = poll.poll_all()

    # Then nothing is drafted, and the skip says why
    assert report.drafted == 0
    [skip] = store.skips("news")
    assert skip["reason"] == "the linked page says the event is cancelled"

    # And preview, judging the same feed with the same config, says the same (one decision path)
    config_path = tmp_path / "hookline.yaml"
    config_path.write_text(
        yaml.safe_dump(_merge(base_config_data(), {"feeds": [{"id": "news", "url": web.url("/news.xml")}]})),
        encoding="utf-8",
    )
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(clock.now, tick=False):
        code = main(
            ["preview", "--json", "--config", str(config_path), web.url("/news.xml")], out=out, err=err
        )
    assert code == 0, err.getvalue()
    judged = {line["title"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert judged[talk.title]["decision"] == "skip"
    assert judged[talk.title]["reason"] == "the linked page says the event is cancelled"


def test_an_entry_repeated_in_one_document_is_drafted_once_and_its_later_copy_is_not_new(
    web: WebServer, store: Store, clock: Clock
) -> None:
    # Given a baselined feed
    serve(web, "/news.xml", [OLD], clock)
    poll = poller(feed_config(web, ("news", "/news.xml")), store, clock)
    poll.poll_all()
    # When a new report appears twice in one document (a pinned copy, dated differently)
    clock.advance(minutes=5)
    pinned = Item(REPORT.title, REPORT.slug, age=timedelta(minutes=1), guid="guid-river-quality")
    serve(web, "/news.xml", [pinned, REPORT, OLD], clock)
    assert poll.poll_all().drafted == 1
    # And a later document lists it once, and then pinned again
    for items in ([REPORT, OLD], [pinned, REPORT, OLD]):
        clock.advance(minutes=5)
        serve(web, "/news.xml", items, clock)
        assert poll.poll_all().drafted == 0
    # Then it is one draft, so it can be approved and posted only once
    assert [d.title for d in store.drafts_in(State.PENDING)] == [REPORT.title]


def test_a_feed_stuck_past_the_deadline_is_recorded_as_that_feeds_failure(
    web: WebServer, store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a baselined feed whose next document keeps its parser busy past the poll's time
    # (a stand-in for markup the bomb check does not know), beside a healthy feed
    import hookline.poll.run as poll_module

    for name in ("stuck", "fine"):
        serve(web, f"/{name}.xml", [OLD], clock)
    poll = poller(feed_config(web, ("stuck", "/stuck.xml"), ("fine", "/fine.xml")), store, clock)
    poll.poll_all()
    real = poll_module.parse_fetched

    def busy(result: Any, **kwargs: Any) -> Any:
        if kwargs.get("feed_id") == "stuck":
            time.sleep(6)
        return real(result, **kwargs)

    monkeypatch.setattr(poll_module, "parse_fetched", busy)
    clock.advance(minutes=5)
    serve(web, "/stuck.xml", [REPORT, OLD], clock)
    # When the poll has 1 second
    report = poll.poll_all(time_budget=1)
    # Then the stuck feed is reported and recorded as failed, so its streak and alarm count it
    by_id = {f.feed_id: f for f in report.feeds}
    assert not by_id["stuck"].ok and by_id["stuck"].failure_streak == 1
    state = store.feed_state("stuck")
    assert state is not None and state.failure_streak == 1
    assert "the poll's time ran out" in (state.last_error or "")
    assert by_id["fine"].ok

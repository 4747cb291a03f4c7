"""1,000 generated hostile feed entries and sixteen hostile servers, in one poll beside good feeds.

The feeds are served by a real local web server and polled by hookline wired as the
poll function wires it. Afterwards: every hostile server's feed failed with its own clear
error (and only its own), every hostile entry was either drafted or skipped with a reason
(none left to crash the next poll again), the good feeds' drafts were made, and no link
in the table is anything but http or https.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest

from hookline.config import Polling
from hookline.models import State
from hookline.poll.feeds import ParseError, parse_feed
from tests.reliability.hostile import (
    TEXT_PAYLOADS,
    HostileFeed,
    HostileServer,
    extra_routes,
    feed_bytes,
    hostile_feeds,
    hostile_servers,
)
from tests.reliability.system import Findings, drafts, poller, snapshot
from tests.support.feeds import Item, page, rss

pytestmark = pytest.mark.slow

FEEDS = 50
PER_FEED = 20
LINK_FIELDS = ("link", "post_link", "final_url", "post_url", "url")
SAFE_SCHEMES = ("http://", "https://")
BUDGET = 110  # what the poll function gives itself: its 120 s timeout less 10 s for the last writes


def unsafe_links(table_items: dict[tuple[str, str], str]) -> list[str]:
    """Every value of a link-like attribute, at any depth, that is not empty or http(s)."""
    found = []

    def walk(key: str, node: Any, where: str) -> None:
        if isinstance(node, dict):
            if set(node) <= {"S", "N", "BOOL", "NULL", "M", "L", "SS", "NS"} and len(node) == 1:
                ((_kind, value),) = node.items()
                walk(key, value, where)
                return
            for name, value in node.items():
                walk(name, value, where)
        elif isinstance(node, list):
            for value in node:
                walk(key, value, where)
        elif (
            isinstance(node, str)
            and key in LINK_FIELDS
            and node
            and not node.lower().startswith(SAFE_SCHEMES)
        ):
            found.append(f"{where}.{key} = {node[:80]!r}")

    for (pk, sk), item in table_items.items():
        walk("", json.loads(item), f"{pk}/{sk}")
    return found


def configure(
    system: Any,
    web: Any,
    good: list[tuple[str, str]],
    hostile: list[HostileFeed],
    servers: list[HostileServer],
) -> None:
    feeds = [{"id": fid, "url": web.url(path)} for fid, path in good]
    feeds += [{"id": f.id, "url": web.url(f.path)} for f in hostile]
    feeds += [{"id": s.id, "url": s.url or web.url(s.path)} for s in servers]
    system.configure(
        feeds=feeds,
        approvers=[{"name": "Alex Morgan", "email": "alex@example.org"}],
        notifications={"email_sender": "hookline@example.org", "sns": False},
        polling={
            "concurrency": 16,
            "connect_timeout_seconds": 2,
            "read_timeout_seconds": 2,
            "max_new_entries": 25,
            # the limit on a whole fetch, however slowly a server drips (where the config has one)
            **({"fetch_timeout_seconds": 8} if "fetch_timeout_seconds" in Polling.model_fields else {}),
        },
    )


@pytest.mark.scenario("1,000 hostile feed entries and hostile servers")
def test_hostile_feeds_and_servers_each_fail_alone_and_nothing_unsafe_is_stored(system, web, aws, ledger):
    now = system.clock.now
    port = web.server_address[1]
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    # Given two good feeds, each with a significant new report and routine minutes
    good = [("good1", "/good1.xml"), ("good2", "/good2.xml")]
    reports = {fid: Item(f"New research report from {fid}", f"{fid}-report") for fid, _ in good}
    minutes = {
        fid: Item(f"Minutes of the {fid} board", f"{fid}-minutes", category="Minutes") for fid, _ in good
    }
    history = Item("Annual report 2025", "annual-2025", age=timedelta(days=40))
    for fid, path in good:
        web.add(path, rss(web.base_url, [history], now))
        web.add(f"/news/{reports[fid].slug}", page(reports[fid].title))
    # And fifty hostile feeds of twenty entries each (RSS, Atom, mislabelled encodings, invalid
    # UTF-8, control characters, an external entity, entity expansion, 50,000-deep nesting)
    hostile = hostile_feeds(FEEDS, PER_FEED, web.base_url, port)
    old = {f.id: HostileFeed(f.id, f.path, entries=f.entries[:0], flavour=f.flavour) for f in hostile}
    for feed in hostile:
        web.add(feed.path, feed_bytes(old[feed.id], web.base_url, now))
    # And sixteen hostile servers
    servers = hostile_servers(rss(web.base_url, [reports["good1"]], now))
    for server in servers:
        if server.resource is not None:
            web.add(server.path, server.resource)
    for path, resource in extra_routes().items():
        web.add(path, resource)
    configure(system, web, good, hostile, servers)
    services = system.services()
    run = poller(services)

    # When the feeds are polled the first time (baselined), and again once the new entries are up
    first = run.poll_all(time_budget=BUDGET)
    for fid, path in good:
        web.add(path, rss(web.base_url, [reports[fid], minutes[fid], history], now))
    for feed in hostile:
        web.add(feed.path, feed_bytes(feed, web.base_url, now))
    system.clock.advance(minutes=5)
    started = time.monotonic()
    second = run.poll_all(time_budget=BUDGET)
    took = time.monotonic() - started

    found = Findings()
    store = services.store
    by_feed = {r.feed_id: r for r in second.feeds}
    # Then each hostile server's feed failed, with its own reason, naming its own URL
    errors: list[str] = []
    for server in servers:
        url = server.url or web.url(server.path)
        for poll, report in (("first", {r.feed_id: r for r in first.feeds}), ("second", by_feed)):
            got = report.get(server.id)
            if got is None or got.ok:
                found.unsafe.append(
                    f"{server.id} ({server.what}) was not reported as failed in the {poll} poll"
                )
                continue
            if not re.search(server.expect, got.error or "", re.IGNORECASE) or url not in (got.error or ""):
                found.unsafe.append(f"{server.id} ({server.what}): unclear error {got.error!r}")
        errors.append(f'{server.what}: "{(by_feed[server.id].error or "").replace(url, "<url>")}"')
    # And every other feed's report is its own: no hostile server's error leaked into it
    for report in second.feeds:
        for server in servers:
            if (
                report.feed_id != server.id
                and report.error
                and (server.url or web.url(server.path)) in report.error
            ):
                found.unsafe.append(f"{report.feed_id}'s error names {server.id}'s URL")
    # And the good feeds' reports were drafted, whatever the hostile feeds did
    titles = {d.title: d for d in drafts(store)}
    for fid, _ in good:
        if not by_feed[fid].ok:
            found.unsafe.append(f"good feed {fid} failed: {by_feed[fid].error}")
        if reports[fid].title not in titles:
            found.lost.append(f"good feed {fid}: '{reports[fid].title}' was not drafted")
        if minutes[fid].title in titles:
            found.state_changes.append(f"good feed {fid}: routine minutes were drafted")
    # And every hostile entry of a feed that could be read was drafted or skipped with a reason:
    # none is left unseen, to fail again at every poll
    readable = failed_feeds = 0
    for feed in hostile:
        report = by_feed[feed.id]
        if not report.ok:
            failed_feeds += 1
            if not report.error or web.url(feed.path) not in report.error:
                found.unsafe.append(
                    f"{feed.id} ({feed.flavour}) failed without its own clear error: {report.error!r}"
                )
            continue
        try:
            parsed = parse_feed(feed_bytes(feed, web.base_url, now), feed_id=feed.id, url=web.url(feed.path))
        except ParseError:
            continue
        readable += 1
        left = store.unseen([e for e in parsed.entries if e.identity])
        found.lost += [f"{feed.id}: {e.title[:60]!r} is neither drafted nor skipped" for e in left]
    # And nothing but http(s) is stored as a link anywhere, and no local file was read
    items = snapshot(system.client, system.table)
    found.unsafe += unsafe_links(items)
    everything = "\n".join(items.values())
    if "root:x:0:0" in everything or "/bin/bash" in everything:
        found.unsafe.append("the contents of /etc/passwd were stored (an external entity was resolved)")
    pending = [d for d in drafts(store) if d.state is State.PENDING]
    hostile_drafts = [d for d in pending if d.feed_id.startswith("hostile")]
    skipped = sum(r.skipped for r in second.feeds)
    entries_total = FEEDS * PER_FEED

    ledger.record(
        entries_total + len(servers),
        found,
        note=f"{entries_total} entries in {FEEDS} feeds, built from {len(TEXT_PAYLOADS)} text payloads and "
        f"{14} unsafe link forms, polled with 2 good feeds and {len(servers)} hostile servers in one run "
        f"({took:.1f} s): {len(hostile_drafts)} hostile entries became drafts, {skipped} were skipped with a "
        f"reason, {failed_feeds} hostile feeds failed whole, {readable} were read; every hostile server's "
        "error: " + "; ".join(errors),
    )
    assert found.clean, found.summary()

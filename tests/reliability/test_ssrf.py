"""A partner's feed whose entries link at internal addresses, polled as deployed (the flag off).

Every link form below is aimed at a loopback listener that stands for what a poll function
can reach inside AWS (the Lambda runtime API at 127.0.0.1:9001, the metadata services) and
counts every request it gets: spellings of loopback (decimal, hex, octal, short, IPv6-mapped
and -compatible, 6to4, NAT64), names that resolve to it (`localhost`, a partner-looking name,
a DNS answer that mixes a public address with loopback), trailing dots and userinfo tricks,
`0.0.0.0` (which Linux connects to loopback), the other internal ranges, and a public-looking
partner server that redirects there, directly, through a chain and by a relative
`//host` redirect. Each entry must still become a draft whose pre-flight says the link was
not fetched (or, where compose will not post such a link at all, a skip with its reason),
the poll's log must name its feed and entry, and the listener must get nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from hookline.poll.fetch import Fetcher
from hookline.poll.netguard import HostMap
from hookline.services import Services
from hookline.settings import read_settings
from hookline.store import Store
from local.webserver import Resource, WebServer
from tests.reliability.system import Findings, drafts, poller
from tests.support.feeds import Item, rss
from tests.support.netguard import PartnerIsPublic

PUBLIC = "93.184.216.34"
PATHS = (
    "/2018-06-01/runtime/invocation/next",  # the Lambda runtime API's shape
    "/latest/meta-data/iam/security-credentials/",  # instance metadata
    "/v2/credentials/0e1f",  # ECS task credentials
)
PER_FEED = 20  # polling.max_new_entries: more in one poll would hold the feed
REFUSED = "The link points at an internal address ("
NOT_FETCHED = ") and was not fetched."


def loopback_hosts(port: int) -> list[str]:
    """Host[:port] forms that all reach the listener on 127.0.0.1:port when nothing guards them."""
    forms = [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0x7f.0.0.1",
        "0x7f.0x0.0x0.0x1",
        "0177.0.0.1",
        "0177.0000.0000.0001",
        "017700000001",
        "127.1",
        "127.0.1",
        "0x7f.1",
        "127.0.0.1.",
        "0.0.0.0",  # noqa: S104 - a link to refuse: Linux connects it to loopback
        "0",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "LocalHost.",
        "internal.example",
        "INTERNAL.example.",
        "mixed.example",
        "example.org@127.0.0.1",
        "user:pass@2130706433",
        "partner.example@localhost",
        "www.example.org%40x@127.0.0.1",
    ]
    return [f"{host}:{port}" for host in forms]


def other_hosts(port: int) -> list[str]:
    """Internal addresses that are not the listener: refused before any connection all the same."""
    forms = [
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:7f00:1]",
        "[0000:0000:0000:0000:0000:ffff:127.0.0.1]",
        "[::127.0.0.1]",
        "[2002:7f00:1::]",
        "[64:ff9b::7f00:1]",
        "[::]",
        "v6.example",
        "mixed6.example",
        "169.254.169.254",
        "169.254.170.2",
        "0xa9fea9fe",
        "[fd00:ec2::254]",
        "[::ffff:169.254.169.254]",
        "metadata.example",
        "169.254.1.1",
        "[fe80::1]",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "[fd12:3456::1]",
        "100.64.0.1",
        "224.0.0.1",
        "192.0.2.1",
        "240.0.0.1",
    ]
    return [f"{host}:{port}" for host in forms]


def resolver() -> HostMap:
    return HostMap(
        {
            "localhost": ["127.0.0.1", "::1"],
            "internal.example": ["127.0.0.1"],
            "mixed.example": [PUBLIC, "127.0.0.1"],  # a public answer first, loopback second
            "v6.example": ["::1"],
            "mixed6.example": [PUBLIC, "::1"],
            "metadata.example": ["169.254.169.254"],
        }
    )


@pytest.mark.scenario("Links from feeds at internal addresses (SSRF)")
def test_no_link_from_a_feed_reaches_an_internal_address(system, web, aws, ledger, caplog):
    now = system.clock.now
    internal = WebServer().start()  # the runtime API, the metadata service: counts every request
    partner = WebServer().start()  # a partner's public server, as `partner.example`
    try:
        port, pport = internal.server_address[1], partner.server_address[1]
        partner_base = f"http://partner.example:{pport}"
        links: list[str] = []
        for host in loopback_hosts(port):
            links += [f"http://{host}{path}" for path in PATHS]
        links += [f"http://{host}{PATHS[0]}" for host in other_hosts(port)]
        links += [f"https://{host}{PATHS[0]}" for host in loopback_hosts(port)[:5]]
        # A public-looking partner that redirects inside: directly, after a chain, by a relative
        # //host redirect, with every status that redirects
        targets = [f"http://{h}{PATHS[0]}" for h in loopback_hosts(port)[:12]]
        for n, target in enumerate(targets):
            partner.add(f"/r/{n}", Resource(redirect=target, status=(301, 302, 303, 307, 308)[n % 5]))
            links.append(f"{partner_base}/r/{n}")
        partner.add("/chain/1", Resource(redirect="/chain/2", status=301))
        partner.add("/chain/2", Resource(redirect=f"{partner_base}/chain/3", status=302))
        partner.add("/chain/3", Resource(redirect=targets[1], status=307))
        partner.add("/relative", Resource(redirect=f"//127.0.0.1:{port}{PATHS[1]}", status=302))
        links += [f"{partner_base}/chain/1", f"{partner_base}/relative"]

        # Given partner feeds whose significant new entries link at all of them (the flag unset)
        system.allow_private = False
        chunks = [links[i : i + PER_FEED] for i in range(0, len(links), PER_FEED)]
        feeds = [{"id": f"partner{n}", "url": web.url(f"/partner{n}.xml")} for n in range(len(chunks))]
        for feed in feeds:
            web.add(feed["url"].removeprefix(web.base_url), rss(web.base_url, [], now))
        system.configure(
            feeds=feeds,
            approvers=[{"name": "Alex Morgan", "email": "alex@example.org"}],
            notifications={"email_sender": "hookline@example.org", "sns": False},
        )
        settings = read_settings(system.env)
        assert settings.allow_private_addresses is False
        store = Store(system.table, client=system.client, clock=system.clock)
        base = Services(settings, clock=system.clock, overrides={"store": store})
        fetcher = Fetcher.for_polling(base.config.polling, guard=PartnerIsPublic(resolver=resolver()))
        services = Services(settings, clock=system.clock, overrides={"store": store, "fetcher": fetcher})
        run = poller(services)
        run.poll_all(time_budget=110)  # first sight: the empty feeds are the baseline
        expected: dict[tuple[str, str], str] = {}
        for n, (feed, chunk) in enumerate(zip(feeds, chunks, strict=True)):
            items = [
                Item(f"New research report {n}-{i}", f"ssrf-{n}-{i}", link=link, age=timedelta(minutes=30))
                for i, link in enumerate(chunk)
            ]
            web.add(feed["url"].removeprefix(web.base_url), rss(web.base_url, items, now))
            expected.update({(feed["id"], f"guid-{item.slug}"): item.link or "" for item in items})

        # When they are polled
        system.clock.advance(minutes=5)
        with caplog.at_level(logging.WARNING, logger="hookline.poll.drafting"):
            report = run.poll_all(time_budget=110)

        # Then every entry became a draft whose pre-flight says its link was not fetched
        found = Findings()
        made = {(d.feed_id, d.link): d for d in drafts(store)}
        # compose refuses to post some of these links whatever the guard says (a user name before
        # the host, a host X would not link): those are skipped with that reason, which is not lost
        skipped = {(f["id"], r["link"]): r.get("reason") for f in feeds for r in store.skips(f["id"], 100)}
        by_link = {link: key for key, link in expected.items()}
        for (feed_id, _), link in expected.items():
            draft = made.get((feed_id, link))
            if draft is None:
                reason = skipped.get((feed_id, link))
                if reason:
                    found.notes["skipped by compose, with its reason (not by the guard)"] += 1
                else:
                    found.lost.append(f"{link}: neither a draft nor a skip with a reason")
                continue
            warnings = (draft.preflight or {}).get("warnings", [])
            if not any(w.startswith(REFUSED) and w.endswith(NOT_FETCHED) for w in warnings):
                found.unsafe.append(f"{link}: pre-flight {warnings!r}")
        for feed in report.feeds:
            if not feed.ok:
                found.lost.append(f"feed {feed.feed_id} failed: {feed.error}")
        # And the log names the feed and the entry of each
        logged = {
            (r.feed, r.entry)  # type: ignore[attr-defined]
            for r in caplog.records
            if r.getMessage() == "link not fetched: internal address"
        }
        for link, key in by_link.items():
            if key not in logged:
                found.unsafe.append(f"{link}: no log line naming feed {key[0]} and entry {key[1]}")
        # And not one request reached the listener; the partner saw exactly its own hops
        for path, headers in internal.requests:
            found.unsafe.append(f"the internal listener was asked for {path} (Host {headers.get('Host')})")
        partner_hops = len(partner.requests)
        found.notes["requests that reached the internal listener"] = len(internal.requests)
        found.notes["partner redirects followed before the refusal"] = partner_hops

        cases = len(expected)
        ledger.record(
            cases,
            found,
            f"{cases} links in {len(feeds)} partner feeds, polled with HOOKLINE_ALLOW_PRIVATE_ADDRESSES "
            f"unset: {len(loopback_hosts(port))} spellings of the listener's loopback address on "
            f"{len(PATHS)} runtime-API and metadata paths, {len(other_hosts(port))} other internal "
            f"addresses, 5 over https, {len(targets) + 2} redirects from a public-looking partner "
            "(every redirect status, a chain, a relative //host); drafts made with the refusal as a "
            f"pre-flight warning: {sum(1 for d in made.values() if _refused(d))}",
        )
        assert found.clean, found.summary()
        assert cases >= 100
        assert partner_hops == len(targets) + 3 + 1  # r/0..11, chain 1-3, relative: never the target
    finally:
        internal.stop()
        partner.stop()


def _refused(draft: Any) -> bool:
    return any(w.startswith(REFUSED) for w in (draft.preflight or {}).get("warnings", []))

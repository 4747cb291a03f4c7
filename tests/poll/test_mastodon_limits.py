"""The poll composes Mastodon renditions within the configured server's own limits (GET
/api/v2/instance, intercepted at the HTTP transport as Mastodon answers it), kept in the table
and re-read at most daily; a server that does not answer never fails the poll."""

from __future__ import annotations

import logging

import pytest

from hookline.config import Config, parse_config
from hookline.models import State
from hookline.poll.fetch import Fetcher
from hookline.poll.run import Poller
from hookline.store import Store
from local.webserver import WebServer
from tests.conftest import Clock, base_config_data
from tests.poll.test_poll import Notified, serve
from tests.support.feeds import Item
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, MastodonFake

# A headline far longer than any server's post: every rendition is cut to its network's limit.
LONG = Item(
    "Research report: " + " ".join(f"river {n} of the Fens was sampled weekly" for n in range(40)),
    "long-report",
)
OLD = Item("Research report: an older one", "older-report")


def mastodon_config(web: WebServer) -> Config:
    data = base_config_data()
    data.pop("account")
    data["accounts"] = {"mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT}}
    data["feeds"] = [{"id": "news", "url": web.url("/news.xml")}]
    return parse_config(data)


@pytest.fixture
def mastodon_server(clock: Clock) -> MastodonFake:
    return MastodonFake(clock=clock)


def instance_reads(server: MastodonFake) -> int:
    return sum(1 for s in server.sent if s.path == "/api/v2/instance")


def poll_new(web: WebServer, store: Store, clock: Clock, server: MastodonFake, items: list[Item]) -> Poller:
    config = mastodon_config(web)
    poll = Poller(config, store, Fetcher.for_polling(config.polling), Notified(), clock, mastodon_http=server)
    serve(web, "/news.xml", [OLD], clock)
    poll.poll_all()  # first sight: history, and nothing to compose, so the server is not asked
    clock.advance(minutes=5)
    serve(web, "/news.xml", [*items, OLD], clock)
    return poll


@pytest.mark.parametrize("max_characters", [300, 1000])
def test_a_drafts_mastodon_rendition_is_cut_to_the_servers_own_limit(
    web: WebServer, store: Store, clock: Clock, mastodon_server: MastodonFake, max_characters: int
) -> None:
    # Given a Mastodon server that allows max_characters per post and weighs a URL as 23
    mastodon_server.instance["configuration"]["statuses"]["max_characters"] = max_characters
    poll = poll_new(web, store, clock, mastodon_server, [LONG])
    assert instance_reads(mastodon_server) == 0

    # When a long report is polled
    assert poll.poll_all().drafted == 1

    # Then its Mastodon rendition is cut to that server's limit, not Mastodon's default 500
    [draft] = store.drafts_in(State.PENDING)
    mastodon = draft.networks["mastodon"]
    assert mastodon["limit"] == max_characters
    assert max_characters - 40 < mastodon["length"] <= max_characters
    assert mastodon["text"].endswith(mastodon["link"]) and "…" in mastodon["text"]
    # And the server was asked once, publicly (no token), at its configured address
    [asked] = [s for s in mastodon_server.sent if s.path == "/api/v2/instance"]
    assert asked.url == f"{SERVER}/api/v2/instance" and "Authorization" not in asked.headers


def test_the_limits_are_kept_in_the_table_and_re_read_only_after_a_day(
    web: WebServer, store: Store, clock: Clock, mastodon_server: MastodonFake
) -> None:
    # Given a server allowing 300 characters, read by one poll
    mastodon_server.instance["configuration"]["statuses"]["max_characters"] = 300
    poll = poll_new(web, store, clock, mastodon_server, [LONG])
    poll.poll_all()
    assert instance_reads(mastodon_server) == 1

    # When another report is drafted by a new poller (a cold container) within the day
    clock.advance(hours=23)
    again = Item(LONG.title + " again", "long-report-2")
    serve(web, "/news.xml", [again, LONG, OLD], clock)
    config = mastodon_config(web)
    cold = Poller(
        config, store, Fetcher.for_polling(config.polling), Notified(), clock, mastodon_http=mastodon_server
    )
    assert cold.poll_all().drafted == 1

    # Then the kept limits are used without asking the server again
    assert instance_reads(mastodon_server) == 1
    assert store.get_draft(drafts_key(store, again)).networks["mastodon"]["limit"] == 300

    # And a day after it was read, the server is asked again, and its new limit used
    clock.advance(hours=2)
    mastodon_server.instance["configuration"]["statuses"]["max_characters"] = 400
    third = Item(LONG.title + " once more", "long-report-3")
    serve(web, "/news.xml", [third, again, LONG, OLD], clock)
    assert cold.poll_all().drafted == 1
    assert instance_reads(mastodon_server) == 2
    assert store.get_draft(drafts_key(store, third)).networks["mastodon"]["limit"] == 400


def test_a_server_that_does_not_answer_falls_back_and_never_fails_the_poll(
    web: WebServer,
    store: Store,
    clock: Clock,
    mastodon_server: MastodonFake,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a server that answers 503 to its instance request, with nothing kept yet
    mastodon_server.script("/api/v2/instance", (503, {"error": "down"}), (503, {"error": "down"}))
    poll = poll_new(web, store, clock, mastodon_server, [LONG])

    # When a report is polled
    with caplog.at_level(logging.WARNING, logger="hookline.poll.instance"):
        report = poll.poll_all()

    # Then the feed is fine and the draft made, its Mastodon rendition within Mastodon's defaults
    assert report.failed == [] and report.drafted == 1
    [draft] = store.drafts_in(State.PENDING)
    assert draft.networks["mastodon"]["limit"] == 500
    # And the log says the limits were not read, naming the server
    [line] = [r for r in caplog.records if r.name == "hookline.poll.instance"]
    assert line.server == SERVER  # type: ignore[attr-defined]

    # And once the server has been read, a later failure keeps its figures
    clock.advance(days=2)
    mastodon_server.scripted.clear()
    mastodon_server.instance["configuration"]["statuses"]["max_characters"] = 300
    second = Item(LONG.title + " again", "long-report-2")
    serve(web, "/news.xml", [second, LONG, OLD], clock)
    poll.poll_all()
    clock.advance(days=2)
    mastodon_server.script("/api/v2/instance", (503, {"error": "down"}))
    third = Item(LONG.title + " once more", "long-report-3")
    serve(web, "/news.xml", [third, second, LONG, OLD], clock)
    assert poll.poll_all().failed == []
    assert store.get_draft(drafts_key(store, third)).networks["mastodon"]["limit"] == 300


def drafts_key(store: Store, item: Item) -> str:
    [draft] = [d for d in store.drafts_in(State.PENDING) if d.link.endswith(f"/news/{item.slug}")]
    return draft.id

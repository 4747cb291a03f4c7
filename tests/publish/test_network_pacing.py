"""Pacing per network: each network keeps its own window, spacing and daily cap (its own last
post and day's count in DynamoDB Local), and the monthly spend cap counts X's posts only.

The clock is injected and moved explicitly; X and Mastodon are intercepted at the transport,
Bluesky is the dry-run adapter (pacing is the publisher's, not the adapter's).
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from hookline.clock import parse_iso
from hookline.config import parse_config
from hookline.publish.delivery import open_deliveries, publish_networks
from hookline.publish.networks.dryrun import DryRunNetwork
from hookline.publish.networks.mastodon import MastodonNetwork
from hookline.publish.networks.port import Identity
from hookline.store import PaceRefused
from tests.conftest import NOW, _merge, base_config_data
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake
from tests.support.publishing import Publisher, approved

BLUESKY_DID = "did:plc:abcdefghijklmnopqrstuvwx"
MONTH, DAY = NOW.strftime("%Y-%m"), NOW.strftime("%Y-%m-%d")


def every_network(**pacing):
    data = _merge(base_config_data(), {"pacing": pacing})
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "news-desk.bsky.social", "did": BLUESKY_DID},
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    return parse_config(data)


def statuses(mastodon_server):
    return [s.form["status"][0] for s in mastodon_server.creates()]


@pytest.fixture
def mastodon_server(clock):
    return MastodonFake(clock=clock)


def others(config, mastodon_server, clock):
    return {
        "bluesky": DryRunNetwork("bluesky", Identity(BLUESKY_DID, "news-desk.bsky.social")),
        "mastodon": MastodonNetwork(
            config.accounts.mastodon, lambda: TOKEN, http=mastodon_server, clock=clock
        ),
    }


def run_all(store, config, networks, clock):
    """One publish run as the handler makes it: the other networks, then X, then the deliveries
    of what X moved on."""
    reports = publish_networks(store, networks, config, clock())
    x = Publisher(store, config, clock).run()
    for draft_id in [*x.published, *x.failed]:
        open_deliveries(store, config, store.get_draft(draft_id), clock())
    return x, reports


def dry_posts(capsys):
    return [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("DRY-RUN POST: [bluesky]")
    ]


def test_each_network_posts_the_first_and_waits_for_its_own_spacing(
    store, clock, x_api, mastodon_server, capsys
):
    # Given an hour's spacing, every network configured and two approved drafts
    config = every_network(min_spacing_minutes=60, daily_cap=4)
    first = approved(store, "First report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second report", at=NOW - timedelta(hours=1))
    networks = others(config, mastodon_server, clock)

    # When the publisher runs now
    x, reports = run_all(store, config, networks, clock)

    # Then X, Bluesky and Mastodon each posted the first at once: one network's post does not
    # use another's spacing
    assert x_api.created == [first.text]
    assert dry_posts(capsys) == [f"DRY-RUN POST: [bluesky] {first.text}"]
    assert statuses(mastodon_server) == [first.text]
    # And each holds the second for its own spacing
    assert (
        x.waiting
        == reports["bluesky"].waiting
        == reports["mastodon"].waiting
        == ("too soon after the last post (spacing 60 minutes)")
    )
    assert store.last_post_at() == store.last_post_at("bluesky") == store.last_post_at("mastodon") == NOW

    # When half an hour passes, then the hour
    clock.advance(minutes=30)
    run_all(store, config, networks, clock)
    assert len(x_api.created) == 1 and dry_posts(capsys) == [] and len(mastodon_server.creates()) == 1
    clock.advance(minutes=30)
    run_all(store, config, networks, clock)

    # Then the second went out on every network an hour after the first
    assert x_api.created == [first.text, second.text]
    assert dry_posts(capsys) == [f"DRY-RUN POST: [bluesky] {second.text}"]
    assert statuses(mastodon_server) == [first.text, second.text]
    assert {n: parse_iso(d["published_at"]) for n, d in store.deliveries_of(second.id).items()} == {
        "bluesky": NOW + timedelta(hours=1),
        "mastodon": NOW + timedelta(hours=1),
    }


def test_spacing_is_counted_from_each_networks_own_last_post(store, clock, x_api, mastodon_server, capsys):
    # Given an hour's spacing, and X posting the first of two drafts at 10:00 alone
    config = every_network(min_spacing_minutes=60, daily_cap=4)
    first = approved(store, "First report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second report", at=NOW - timedelta(hours=1))
    networks = others(config, mastodon_server, clock)
    Publisher(store, config, clock).run()
    open_deliveries(store, config, store.get_draft(first.id), clock())
    assert x_api.created == [first.text]

    # When Bluesky and Mastodon first run at 10:30
    clock.advance(minutes=30)
    early = publish_networks(store, networks, config, clock())

    # Then each posts one draft at once (X's post at 10:00 is not theirs), and waits for the other
    assert len(dry_posts(capsys)) == len(mastodon_server.creates()) == 1
    assert (
        early["bluesky"].waiting
        == early["mastodon"].waiting
        == "too soon after the last post (spacing 60 minutes)"
    )

    # When it is 11:00: X's hour is up, theirs is not
    clock.advance(minutes=30)
    _, reports = run_all(store, config, networks, clock)
    assert x_api.created == [first.text, second.text]
    assert dry_posts(capsys) == [] and len(mastodon_server.creates()) == 1
    assert (
        reports["bluesky"].waiting
        == reports["mastodon"].waiting
        == "too soon after the last post (spacing 60 minutes)"
    )

    # Then at 11:30 their second goes out, an hour after their first
    clock.advance(minutes=30)
    run_all(store, config, networks, clock)
    assert len(dry_posts(capsys)) == 1 and len(mastodon_server.creates()) == 2
    assert {
        d["delivery_state"]
        for d in [*store.deliveries_of(first.id).values(), *store.deliveries_of(second.id).values()]
    } == {"PUBLISHED"}


def test_a_daily_cap_reached_on_x_does_not_hold_mastodon(store, clock, x_api, mastodon_server):
    # Given one post a day on each network, and X having posted today's
    config = every_network(min_spacing_minutes=0, daily_cap=1)
    first = approved(store, "First report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second report", at=NOW - timedelta(hours=1))
    networks = {"mastodon": others(config, mastodon_server, clock)["mastodon"]}
    x = Publisher(store, config, clock).run()
    assert x_api.created == [first.text]
    assert x.waiting == "daily cap reached (1 posts)"

    # When Mastodon runs (the second draft, still APPROVED, has its delivery)
    reports = publish_networks(store, networks, config, clock())

    # Then Mastodon posts: X's cap is X's
    assert statuses(mastodon_server) == [second.text]
    assert store.posts_on(DAY) == store.posts_on(DAY, "mastodon") == 1
    assert reports["mastodon"].waiting is None

    # And Mastodon keeps its own cap: the first draft's delivery waits for tomorrow
    open_deliveries(store, config, store.get_draft(first.id), clock())
    clock.advance(minutes=10)
    later = publish_networks(store, networks, config, clock())
    assert later["mastodon"].waiting == "daily cap reached (1 posts)"
    assert len(mastodon_server.creates()) == 1
    clock.now = NOW + timedelta(days=1)
    publish_networks(store, networks, config, clock())
    assert statuses(mastodon_server) == [second.text, first.text]


def test_the_spend_cap_counts_only_xs_posts(store, clock, x_api, mastodon_server, capsys):
    # Given room for one X post this month ($0.20) and two approved drafts
    config = every_network(min_spacing_minutes=0, daily_cap=10, monthly_spend_cap_usd=0.20)
    first = approved(store, "First report", at=NOW - timedelta(hours=2))
    second = approved(store, "Second report", at=NOW - timedelta(hours=1))
    networks = others(config, mastodon_server, clock)

    # When the publisher runs
    x, _ = run_all(store, config, networks, clock)

    # Then X posted one and stops at the cap; Bluesky and Mastodon, which cost nothing, post both
    assert x_api.created == [first.text]
    assert x.waiting == "monthly spend cap reached ($0.20 of $0.20 spent)"
    assert x.spend_cents == 20
    assert dry_posts(capsys) == [
        f"DRY-RUN POST: [bluesky] {first.text}",
        f"DRY-RUN POST: [bluesky] {second.text}",
    ]
    assert len(mastodon_server.creates()) == 2
    # And the month's spend is X's one post
    spend = store.month_spend(MONTH)
    assert (spend.cents, spend.posts) == (20, 1)
    assert store.posts_on(DAY, "bluesky") == store.posts_on(DAY, "mastodon") == 2


def test_outside_the_window_no_network_posts(store, clock, x_api, mastodon_server, capsys):
    # Given an approved draft on a Saturday
    config = every_network(min_spacing_minutes=0)
    clock.now = NOW + timedelta(days=3)
    approved(store, "First report", at=clock.now - timedelta(hours=1))

    # When the publisher runs
    x, reports = run_all(store, config, others(config, mastodon_server, clock), clock)

    # Then nothing went anywhere, and each network says why
    assert x_api.created == [] and dry_posts(capsys) == [] and mastodon_server.creates() == []
    assert (
        x.waiting == reports["bluesky"].waiting == reports["mastodon"].waiting == "outside the publish window"
    )


def test_publishers_racing_for_a_networks_last_slot_get_one_each_network(store):
    # Given two slots left today on Bluesky and one on Mastodon
    results: dict[str, list[str]] = {"bluesky": [], "mastodon": []}
    start = threading.Barrier(8)
    caps = {"bluesky": 2, "mastodon": 1}

    def reserve(network: str) -> None:
        start.wait()
        try:
            store.reserve_slot(
                network=network, now=NOW, day=DAY, daily_cap=caps[network], spacing=timedelta(0)
            )
            results[network].append("reserved")
        except PaceRefused as exc:
            results[network].append(exc.reason)

    # When eight publishers reserve at once, four per network
    threads = [threading.Thread(target=reserve, args=(n,)) for n in ["bluesky", "mastodon"] * 4]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # Then each network's cap held exactly, and none of it touched X's counters or the spend
    assert results["bluesky"].count("reserved") == 2
    assert results["mastodon"].count("reserved") == 1
    assert store.posts_on(DAY, "bluesky") == 2 and store.posts_on(DAY, "mastodon") == 1
    assert store.posts_on(DAY) == 0 and store.month_spend(MONTH).cents == 0


def test_a_released_slot_gives_back_that_networks_day_and_spacing_only(store):
    # Given Bluesky and Mastodon each holding a slot at 10:00 with an hour's spacing
    hour = timedelta(hours=1)
    for network in ("bluesky", "mastodon"):
        store.reserve_slot(network=network, now=NOW, day=DAY, daily_cap=4, spacing=hour)

    # When Bluesky's is given back (its post was refused)
    store.release_slot(network="bluesky", day=DAY, now=NOW)

    # Then Bluesky may post again at once; Mastodon still waits for its hour
    assert store.posts_on(DAY, "bluesky") == 0 and store.posts_on(DAY, "mastodon") == 1
    store.reserve_slot(network="bluesky", now=NOW + timedelta(minutes=10), day=DAY, daily_cap=4, spacing=hour)
    with pytest.raises(PaceRefused, match="too soon"):
        store.reserve_slot(
            network="mastodon", now=NOW + timedelta(minutes=10), day=DAY, daily_cap=4, spacing=hour
        )

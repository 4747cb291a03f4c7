"""`python -m hookline status` and `rebaseline`, reading a real table (DynamoDB Local) that
real polls wrote."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from hookline.config import Config
from hookline.models import State
from hookline.ops.cli import main
from hookline.poll.fetch import Fetcher
from hookline.poll.run import Poller
from hookline.store import Store
from local.dynamodb import DynamoDBLocal
from local.webserver import Resource, WebServer
from tests.conftest import Clock, make_config
from tests.support.aws import AwsFake
from tests.support.feeds import Item, page, rss

REPORT = Item("New research report: river quality in the Fens", "river-quality")
VACANCY = Item("Vacancy: finance officer", "finance-officer", category="Vacancies")
OLD = Item("Annual report 2025", "annual-report-2025", age=timedelta(days=40))


class Quiet:
    def new_draft(self, draft: Any, now: Any, *, reminder: bool = False) -> list[str]:
        return []


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def setup(web: WebServer, store: Store, clock: Clock, tmp_path: Path) -> tuple[Config, Poller, Path]:
    for path in ("/news.xml", "/events.xml", "/partner.xml"):
        web.add(path, rss(web.base_url, [OLD], clock.now))
    config = make_config(
        feeds=[
            {"id": "news", "url": web.url("/news.xml")},
            {"id": "events", "url": web.url("/events.xml"), "kind": "event"},
            {"id": "partner", "url": web.url("/partner.xml"), "source": "partner", "partner": "Fen Trust"},
        ],
        polling={"max_new_entries": 3},
    )
    path = tmp_path / "hookline.json"
    path.write_text(json.dumps(config.model_dump(mode="json")), encoding="utf-8")
    poller = Poller(config, store, Fetcher.for_polling(config.polling), Quiet(), clock)
    return config, poller, path


def test_status_shows_each_feeds_last_poll_success_streak_drafts_and_alarms(
    web: WebServer, store: Store, clock: Clock, tmp_path: Path, dynamodb_local: DynamoDBLocal
) -> None:
    # Given three feeds polled for a while: news drafted a report and skipped a vacancy,
    # events went down three polls ago, partner migrated and floods
    _, poller, config_path = setup(web, store, clock, tmp_path)
    poller.poll_all()
    clock.advance(minutes=5)
    web.add("/news.xml", rss(web.base_url, [REPORT, VACANCY, OLD], clock.now))
    web.add(f"/news/{REPORT.slug}", page(REPORT.title))
    web.add("/events.xml", Resource(body=b"maintenance", status=503))
    flood = [Item(f"Research report {i}", f"r{i}") for i in range(5)]
    web.add("/partner.xml", rss(web.base_url, [*flood, OLD], clock.now))
    poller.poll_all()
    for _ in range(2):
        clock.advance(minutes=5)
        poller.poll_all()

    # When an operator asks for the status of that deployment's table
    code, out, err = cli(
        "status",
        "--table",
        store.table,
        "--endpoint",
        dynamodb_local.endpoint,
        "--config",
        str(config_path),
        "--skips",
        "3",
    )

    # Then each feed shows its last poll, last success, failure streak and drafts made
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Feeds (from {config_path}):"
    assert (
        "  ok    news: last poll 2026-11-25 10:15 UTC, last success 2026-11-25 10:15 UTC, failure streak 0, drafts made 1"
        in lines
    )
    # And the feed that failed three polls in a row is an alarm, with its reason
    assert (
        "  ALARM events: last poll 2026-11-25 10:15 UTC, last success 2026-11-25 10:00 UTC, failure streak 3, drafts made 0"
        in lines
    )
    assert (
        f"        last error: could not fetch {web.url('/events.xml')}: HTTP 503 Service Unavailable" in lines
    )
    # And the flooded feed is held, saying how to release it
    partner = lines.index(next(x for x in lines if "partner:" in x))
    assert lines[partner].startswith("  held  partner: last poll 2026-11-25 10:15 UTC")
    assert lines[partner + 1].startswith("        held: 5 new entries in one poll (limit 3)")
    assert "python -m hookline rebaseline partner" in lines[partner + 1]
    # And the vacancy's skip reason can be seen
    assert (
        f"        skipped {VACANCY.title!r}: excluded category 'Vacancies' matched 'Vacancies' (rule 'publications')"
        in lines
    )
    assert (
        "Drafts: PENDING 1, APPROVED 0, PUBLISHING 0, PUBLISHED 0, REJECTED 0, EXPIRED 0, FAILED 0" in lines
    )

    # And --json gives the same facts to scripts
    code, out, _ = cli(
        "status",
        "--table",
        store.table,
        "--endpoint",
        dynamodb_local.endpoint,
        "--config",
        str(config_path),
        "--json",
    )
    data = json.loads(out)
    events = next(f for f in data["feeds"] if f["id"] == "events")
    assert events["alarm"] is True
    assert events["failure_streak"] == 3
    assert data["drafts"]["PENDING"] == 1


def test_status_finds_the_table_from_the_stack(
    web: WebServer, store: Store, clock: Clock, tmp_path: Path, dynamodb_local: DynamoDBLocal, aws: AwsFake
) -> None:
    # Given a deployed stack whose outputs name the table
    _, poller, config_path = setup(web, store, clock, tmp_path)
    poller.poll_all()
    aws.stack_outputs["hookline-prod"] = {"TableName": store.table}

    code, out, err = cli(
        "status",
        "--stack",
        "hookline-prod",
        "--endpoint",
        dynamodb_local.endpoint,
        "--config",
        str(config_path),
    )

    assert code == 0, err
    assert [c.params["StackName"] for c in aws.of("DescribeStacks")] == ["hookline-prod"]
    assert "  ok    news: last poll 2026-11-25 10:00 UTC, last success 2026-11-25 10:00 UTC" in out


def test_rebaseline_releases_a_held_feed_without_drafting_its_flood(
    web: WebServer, store: Store, clock: Clock, tmp_path: Path, dynamodb_local: DynamoDBLocal
) -> None:
    # Given a partner feed held after a site migration
    _, poller, _config_path = setup(web, store, clock, tmp_path)
    poller.poll_all()
    flood = [Item(f"Research report {i}", f"r{i}") for i in range(5)]
    web.add("/partner.xml", rss(web.base_url, [*flood, OLD], clock.now))
    clock.advance(minutes=5)
    poller.poll_all()
    state = store.feed_state("partner")
    assert state is not None
    assert state.held

    # When an operator accepts the new entries as history
    code, out, _ = cli("rebaseline", "partner", "--table", store.table, "--endpoint", dynamodb_local.endpoint)
    assert code == 0
    assert out == "feed partner: the next poll takes its current entries as history (nothing is drafted)\n"
    clock.advance(minutes=5)
    report = poller.poll_all()

    # Then the next poll baselines it: nothing drafted, no longer held, later entries drafted as usual
    partner = next(f for f in report.feeds if f.feed_id == "partner")
    assert partner.status == "baselined (first sight)"
    assert store.drafts_in(State.PENDING) == []
    state = store.feed_state("partner")
    assert state is not None
    assert state.held is None
    web.add("/partner.xml", rss(web.base_url, [REPORT, *flood, OLD], clock.now))
    web.add(f"/news/{REPORT.slug}", page(REPORT.title))
    clock.advance(minutes=5)
    assert poller.poll_all().drafted == 1


def test_rebaseline_of_an_unknown_feed_says_so(store: Store, dynamodb_local: DynamoDBLocal) -> None:
    code, _, err = cli("rebaseline", "nosuch", "--table", store.table, "--endpoint", dynamodb_local.endpoint)
    assert code == 2
    assert err == "hookline: feed 'nosuch' has never been polled in this deployment\n"


def test_status_with_a_config_whose_feeds_this_table_never_polled_says_so(
    store: Store, dynamodb_local: DynamoDBLocal, clock: Clock, tmp_path: Path
) -> None:
    # Given a table with drafts (the demo's), read with another config (the project's own)
    from tests.conftest import NOW, base_config_data
    from tests.support.drafts import add_draft

    add_draft(store, NOW)
    other = tmp_path / "hookline.yaml"
    other.write_text(json.dumps(base_config_data()), encoding="utf-8")

    # When the operator asks for its status
    code, out, err = cli(
        "status", "--table", store.table, "--endpoint", dynamodb_local.endpoint, "--config", str(other)
    )

    # Then it names the config it read, and says its feeds were never polled here
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Feeds (from {other}):"
    assert (
        "  none of these feeds was ever polled in this table: is this the config the deployment uses? "
        "(pass --config FILE; for the demo, the status command it printed)"
    ) in lines
    assert json.loads(
        cli(
            "status",
            "--table",
            store.table,
            "--endpoint",
            dynamodb_local.endpoint,
            "--config",
            str(other),
            "--json",
        )[1]
    )["config"] == str(other)


def test_status_names_a_network_its_guard_held_and_why(
    store: Store, dynamodb_local: DynamoDBLocal, clock: Clock, tmp_path: Path
) -> None:
    # Given a deployment with X and Mastodon, whose Mastodon token turned out to be another account's
    from tests.conftest import NOW, base_config_data
    from tests.publish.test_network_guard import approve
    from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT},
    }
    path = tmp_path / "hookline.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    from hookline.config import load_config
    from hookline.publish.delivery import publish_networks
    from hookline.publish.networks.mastodon import MastodonNetwork

    config = load_config(path)
    server = MastodonFake(clock=clock)
    server.account = {**server.account, "id": "999", "acct": "someone_else"}
    mastodon = MastodonNetwork(config.accounts.mastodon, lambda: TOKEN, http=server, clock=clock)
    approve(store, clock, "Report for two networks")
    publish_networks(store, {"mastodon": mastodon}, config, NOW)

    # When the operator asks for its status
    code, out, err = cli(
        "status", "--table", store.table, "--endpoint", dynamodb_local.endpoint, "--config", str(path)
    )

    # Then one line names the held network and why, and X is not said to be held
    assert code == 0, err
    [line] = [x for x in out.splitlines() if x.startswith("HELD")]
    assert line.startswith("HELD on mastodon: the mastodon credentials belong to someone_else (999)")
    assert "Publishing: running" in out

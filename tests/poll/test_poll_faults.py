"""Nothing lost, nothing twice: DynamoDB failures injected through botocore at every write a
poll makes, and overlapping polls, against DynamoDB Local.

Each scenario: a baselined feed gets a significant report (one draft, emails to each
approver, an SNS message) and routine minutes (one recorded skip). The poll that reads
them has one of its writes fail; the next poll runs clean. Afterwards every entry must be
handled exactly once: one draft for the report, one skip record for the minutes, both
marked seen, every approver told.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from hookline.approval.links import LinkSigner
from hookline.approval.notify import Notifier
from hookline.models import State
from hookline.poll.feeds import parse_feed
from hookline.poll.fetch import Fetcher
from hookline.poll.run import Poller
from hookline.store import Store
from local.dynamodb import DynamoDBLocal
from local.webserver import WebServer
from tests.conftest import SIGNING_KEY, Clock, make_config
from tests.support.aws import AwsFake
from tests.support.feeds import Item, page, rss

WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
TOPIC = "arn:aws:sns:eu-west-2:000000000000:hookline-approvers"
REPORT = Item("New research report: river quality in the Fens", "river-quality")
MINUTES = Item("Minutes of the November board meeting", "board-minutes", category="Minutes")
OLD = Item("Annual report 2025", "annual-report-2025", age=timedelta(days=40))


@dataclass
class Faults:
    """Counts a client's writes and makes the chosen one fail the chosen way."""

    kind: str = ""
    at: int = 0  # 1-based index of the write to fail; 0: none
    writes: list[str] = field(default_factory=list)
    armed: bool = False

    def install(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self.before)
        client.meta.events.register("after-call.dynamodb", self.after)

    def _label(self, model: Any, params: dict[str, Any]) -> str:
        body = json.loads(params.get("body") or b"{}")
        keys = []
        for text in json.dumps(body).split('"pk": {"S": "')[1:]:
            keys.append(text.split('"', 1)[0].split("#", 1)[0])
        for text in json.dumps(body).split('"sk": {"S": "')[1:]:
            keys.append(text.split('"', 1)[0].split("#", 1)[0])
        return f"{model.name}({','.join(sorted(set(keys)))})"

    def before(self, model: Any, params: dict[str, Any], **_: Any) -> Any:
        if not self.armed or model.name not in WRITES:
            return None
        self.writes.append(self._label(model, params))
        if len(self.writes) != self.at:
            return None
        if self.kind == "timeout":
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1 (injected)")
        if self.kind == "throttled":
            return _error(400, "ProvisionedThroughputExceededException", "injected throttling")
        if self.kind == "conditional":
            if model.name == "TransactWriteItems":
                return _error(
                    400,
                    "TransactionCanceledException",
                    "injected",
                    CancellationReasons=[{"Code": "ConditionalCheckFailed"}, {"Code": "None"}],
                )
            return _error(400, "ConditionalCheckFailedException", "injected conditional failure")
        return None

    def after(self, model: Any, **_: Any) -> None:
        # The write was applied; its answer is lost on the way back (a timeout after the fact).
        if self.armed and self.kind == "reply-lost" and model.name in WRITES and len(self.writes) == self.at:
            raise ReadTimeoutError(endpoint_url="http://127.0.0.1 (injected after the write)")


def _error(status: int, code: str, message: str, **extra: Any) -> tuple[AWSResponse, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
        **extra,
    }
    return AWSResponse("http://127.0.0.1", status, {}, None), parsed


@dataclass
class Scenario:
    store: Store
    poller: Poller
    faults: Faults
    web: WebServer
    clock: Clock

    def feed_entries(self) -> list[Any]:
        body = rss(self.web.base_url, [REPORT, MINUTES, OLD], self.clock.now)
        return parse_feed(body, feed_id="news", url=self.web.url("/news.xml")).entries


@pytest.fixture
def scenarios(dynamodb_local: DynamoDBLocal, web: WebServer, clock: Clock, aws: AwsFake) -> Iterator[Any]:
    tables: list[str] = []
    config = make_config(feeds=[{"id": "news", "url": web.url("/news.xml")}])
    signer = LinkSigner([SIGNING_KEY], timedelta(days=7), "https://approve.example.org")
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    for item in (REPORT, MINUTES, OLD):
        web.add(f"/news/{item.slug}", page(item.title))

    def make(kind: str = "", at: int = 0) -> Scenario:
        table = dynamodb_local.create_table()
        tables.append(table)
        client = dynamodb_local.client()
        faults = Faults(kind, at)
        faults.install(client)
        store = Store(table, client=client, clock=clock)
        notifier = Notifier(config, store, lambda: signer, topic_arn=TOPIC)
        poller = Poller(config, store, Fetcher.for_polling(config.polling), notifier, clock)
        web.add("/news.xml", rss(web.base_url, [OLD], clock.now))
        poller.poll_all()  # baseline, no faults
        web.add("/news.xml", rss(web.base_url, [REPORT, MINUTES, OLD], clock.now))
        return Scenario(store, poller, faults, web, clock)

    yield make
    for table in tables:
        dynamodb_local.client().delete_table(TableName=table)


def emails_for(aws: AwsFake, title: str) -> dict[str, int]:
    sent: dict[str, int] = {}
    for call in aws.of("SendEmail"):
        if title in json.dumps(call.params):
            to = call.params["Destination"]["ToAddresses"][0]
            sent[to] = sent.get(to, 0) + 1
    return sent


def writes_of_a_clean_poll(make: Any) -> list[str]:
    scenario = make()
    scenario.faults.armed = True
    scenario.poller.poll_all()
    return scenario.faults.writes


def test_a_clean_poll_makes_the_writes_the_scenarios_break(scenarios: Any) -> None:
    # The write sequence each fault scenario walks through, in the order docs/design.md requires:
    # the draft (with its audit entry), each approver's notification marker, then seen markers.
    writes = writes_of_a_clean_poll(scenarios)
    assert writes == [
        "TransactWriteItems(AUDIT,DRAFT)",
        "PutItem(DRAFT,NOTIFIED)",
        "PutItem(DRAFT,NOTIFIED)",
        "PutItem(DRAFT,NOTIFIED)",
        "BatchWriteItem(FEED,LINK,SEEN)",
        "PutItem(FEED,SKIP)",
        "BatchWriteItem(FEED,LINK,SEEN)",
        "UpdateItem(FEED,STATE)",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["throttled", "timeout", "conditional", "reply-lost"])
def test_a_failure_at_any_write_of_a_poll_loses_nothing_and_duplicates_nothing(
    scenarios: Any, aws: AwsFake, clock: Clock, kind: str
) -> None:
    total = len(writes_of_a_clean_poll(scenarios))
    outcomes = []
    for at in range(1, total + 1):
        # Given a feed with a new report and new minutes
        scenario: Scenario = scenarios(kind, at)
        aws.calls.clear()

        # When the write number `at` of the poll that reads them fails, and the next poll runs clean
        scenario.faults.armed = True
        clock.advance(minutes=5)
        faulty = scenario.poller.poll_all()
        scenario.faults.armed = False
        clock.advance(minutes=5)
        scenario.poller.poll_all()
        broken = scenario.faults.writes[at - 1]

        # Then the report is exactly one pending draft, queued once, and every approver was told
        store = scenario.store
        drafts = store.drafts_in(State.PENDING)
        assert [d.title for d in drafts] == [REPORT.title], (kind, broken)
        queued = [a for a in store.audit(drafts[0].id) if a.action == "queued"]
        assert len(queued) == 1, (kind, broken)
        assert set(emails_for(aws, REPORT.title)) == {"alex@example.org", "sam@example.org"}, (kind, broken)
        # And the minutes' skip is recorded with its reason
        assert [s["title"] for s in store.skips("news")] == [MINUTES.title], (kind, broken)
        # And both entries are marked seen: a third poll finds nothing new
        assert store.unseen(scenario.feed_entries()) == [], (kind, broken)
        clock.advance(minutes=5)
        third = scenario.poller.poll_all()
        assert third.drafted == 0, (kind, broken)
        assert third.feeds[0].skipped == 0, (kind, broken)
        outcomes.append((broken, faulty.feeds[0].ok, faulty.feeds[0].error))

    # (each scenario really failed a write: the faulty poll reported a problem, except where the
    # lost reply or refused condition was on a write whose outcome the poll could not miss)
    assert len(outcomes) == total
    assert any(not ok for _, ok, _ in outcomes)


def test_two_overlapping_polls_never_draft_an_entry_twice(
    scenarios: Any, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two pollers (two function instances) on the same table, and a feed with new entries
    first: Scenario = scenarios()
    store = first.store
    second = Poller(first.poller.config, store, first.poller.fetcher, first.poller.notifier, clock)

    # When both read the feed at the same moment: both see the entries as new before either
    # has marked them seen
    barrier = threading.Barrier(2, timeout=20)
    real_unseen = store.unseen

    def unseen_together(entries: Any) -> Any:
        found = real_unseen(entries)
        barrier.wait()
        return found

    monkeypatch.setattr(store, "unseen", unseen_together)
    clock.advance(minutes=5)
    reports: list[Any] = []
    threads = [
        threading.Thread(target=lambda p=p: reports.append(p.poll_all())) for p in (first.poller, second)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then exactly one draft exists, created by exactly one of them, queued once
    assert len(reports) == 2
    assert sum(r.drafted for r in reports) == 1
    [draft] = store.drafts_in(State.PENDING)
    assert draft.title == REPORT.title
    assert len([a for a in store.audit(draft.id) if a.action == "queued"]) == 1
    assert [s["title"] for s in store.skips("news")] == [MINUTES.title]
    monkeypatch.setattr(store, "unseen", real_unseen)
    assert store.unseen(first.feed_entries()) == []

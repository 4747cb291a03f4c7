"""The PollFeeds handler: a feed failing polls in a row raises the alarm metric and says why in the logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from local.webserver import Resource, WebServer
from tests.conftest import NOW, LambdaEnv
from tests.support.events import call, load
from tests.support.feeds import Item, rss
from tests.support.paths import ROOT


def emitted(out: str) -> list[dict[str, Any]]:
    """The embedded-metric-format documents the handler printed (CloudWatch reads them from stdout)."""
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [d for d in docs if "_aws" in d]


def value(doc: dict[str, Any], name: str) -> float:
    raw = doc.get(name, 0)
    return float(sum(raw) if isinstance(raw, list) else raw)


def test_a_feed_failing_three_polls_in_a_row_raises_the_alarm_metric_and_logs_why(
    lambda_env: LambdaEnv, web: WebServer, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a deployment watching a healthy feed and one that is down
    web.add("/news.xml", rss(web.base_url, [Item("Annual report", "annual")], NOW))
    web.add("/down.xml", Resource(body=b"maintenance", status=503))
    lambda_env.write_config(
        feeds=[{"id": "news", "url": web.url("/news.xml")}, {"id": "down", "url": web.url("/down.xml")}],
        polling={"failure_alarm_after": 3},
    )
    handler = lambda_env.handler("poll_feeds")

    # When the schedule runs three polls
    alarms, heartbeats = [], []
    caplog.set_level(logging.INFO)
    for _ in range(3):
        caplog.clear()
        capfd.readouterr()
        summary = call(handler, load("poll_feeds"))
        metrics = emitted(capfd.readouterr().out)
        [doc] = [m for m in metrics if "FeedsFailingRepeatedly" in m]
        alarms.append(value(doc, "FeedsFailingRepeatedly"))
        heartbeats.append(value(doc, "PollHeartbeat"))

    # Then the alarm metric is raised on the third failure in a row, not before
    assert alarms == [0, 0, 1]
    # And the heartbeat keeps beating because other feeds are fine
    assert heartbeats == [1, 1, 1]
    # And the logs name the feed, its streak and why
    [alarm] = [r for r in caplog.records if r.getMessage() == "feed keeps failing"]
    assert alarm.levelname == "ERROR"
    assert alarm.feed == "down"  # type: ignore[attr-defined]
    assert alarm.failure_streak == 3  # type: ignore[attr-defined]
    assert alarm.error == f"could not fetch {web.url('/down.xml')}: HTTP 503 Service Unavailable"  # type: ignore[attr-defined]
    assert summary["failed"] == [
        f"down: could not fetch {web.url('/down.xml')}: HTTP 503 Service Unavailable"
    ]
    assert summary["not_modified"] == 1  # the healthy feed answered 304
    # And the run's log line carries the counts the dashboard charts from the logs (drafts and
    # failures are no custom metrics: each metric name is billed every month)
    [finished] = [r for r in caplog.records if r.getMessage() == "poll finished"]
    assert (finished.drafted, finished.failed_feeds) == (0, 1)  # type: ignore[attr-defined]
    dashboard = (ROOT / "template.yaml").read_text()
    assert (
        "filter message = 'poll finished' | stats sum(drafted) as drafts_created, sum(failed_feeds)"
        in dashboard
    )

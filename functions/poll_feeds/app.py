"""Scheduled: poll every configured feed and queue new significant entries for approval."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hookline.poll.run import Poller
from hookline.services import Services
from hookline.settings import read_settings

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"hookline"})

# Leave this much of the function's time for writing the last poll records.
SAFETY_SECONDS = 10
DRAFT_SKIP = "draft-skip"


@lru_cache(maxsize=1)
def services() -> Services:
    built = Services(read_settings())
    _ = built.config  # a broken config stops the function here, before it fetches or writes anything
    return built


@lru_cache(maxsize=1)
def poller() -> Poller:
    s = services()
    return Poller(s.config, s.store, s.fetcher, s.notifier, s.clock)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("action") == DRAFT_SKIP:  # the approvals function, for a person's "Draft this"
        return draft_skip(event)
    # The poll's deadline: fetches and new entries stop in time for the last records to be written.
    budget = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
    report = poller().poll_all(time_budget=max(budget, 1))
    threshold = services().config.polling.failure_alarm_after
    # Only what an alarm reads is a metric (each name is billed every month, and polling every
    # minute must not cost more than every five did); the rest of the poll's figures are in its
    # "poll finished" log line, which the dashboard charts with Logs Insights (drafts, failures).
    metrics.add_metric(
        name="FeedsFailingRepeatedly", unit=MetricUnit.Count, value=len(report.alarming(threshold))
    )
    metrics.add_metric(name="FeedsHeld", unit=MetricUnit.Count, value=len(report.held))
    if report.feeds and len(report.failed) < len(report.feeds):
        metrics.add_metric(name="PollHeartbeat", unit=MetricUnit.Count, value=1)
    for feed in report.alarming(threshold):
        logger.error(
            "feed keeps failing",
            extra={"feed": feed.feed_id, "failure_streak": feed.failure_streak, "error": feed.error},
        )
    summary = report.summary()
    logger.info("poll finished", extra={**summary, "failed_feeds": len(report.failed)})
    return summary


def draft_skip(event: dict[str, Any]) -> dict[str, Any]:
    from hookline.poll.run import SkipNotDrafted

    feed_id, key, by = (str(event.get(k) or "") for k in ("feed_id", "key", "by"))
    if not (feed_id and key and by):
        logger.error("draft-skip event without feed_id, key and by")
        return {"drafted": None, "error": "the event needs feed_id, key and by"}
    try:
        draft_id = poller().draft_skip(feed_id, key, by)
    except SkipNotDrafted as exc:  # recorded on the skip, shown on the queue page; no retry helps
        return {"drafted": None, "error": str(exc)}
    return {"drafted": draft_id}

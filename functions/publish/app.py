"""Publish approved drafts to the corporate X account: on the schedule (with the housekeeping:
stale drafts, reminders, health gauges), and at once when the table's stream reports a draft
approved or retried, or publishing resumed (template.yaml, PublishFunction's DueNow filter)."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from hookline.publish.delivery import publish_networks
from hookline.publish.run import publish_due
from hookline.services import Services
from hookline.settings import read_settings

logger = Logger()
metrics = Metrics()
copy_config_to_registered_loggers(source_logger=logger, include={"hookline"})


@lru_cache(maxsize=1)
def services() -> Services:
    built = Services(read_settings())
    _ = built.config  # a broken config stops the function here, before anything is posted
    return built


# -- health gauges for the alarms (owned by operations; kept apart from publishing on purpose) --


def emit_health_gauges(s: Services) -> None:
    """Table-derived gauges (stuck attempts, approval queue, spend); a failure here never affects publishing."""
    try:
        from hookline.publish.health import UNITS, gauges

        values = gauges(s.store, s.config, s.clock())
    except Exception:
        logger.exception("health gauges failed; their alarms see missing data until the next run")
        return
    for name, value in values.items():
        metrics.add_metric(name=name, unit=MetricUnit(UNITS[name]), value=value)


def due_now(event: dict[str, Any]) -> list[str] | None:
    """From a stream event, the drafts that just became due: a run for them alone. None: a full
    run (the schedule, or publishing resumed, which may make any approved draft due)."""
    from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

    named: list[str] = []
    for record in DynamoDBStreamEvent(event).records:
        keys = record.dynamodb.keys if record.dynamodb else {}
        pk, sk = str(keys.get("pk", "")), str(keys.get("sk", ""))
        if (pk, sk) == ("CONTROL", "PAUSE"):
            return None
        if sk == "DRAFT" and pk.startswith("DRAFT#"):
            named.append(pk.removeprefix("DRAFT#"))
    return named


def from_stream(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return isinstance(records, list) and any(
        isinstance(r, dict) and r.get("eventSource") == "aws:dynamodb" for r in records
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    s = services()
    if from_stream(event):
        named = due_now(event)
        result = publish(s, context, named=named)
        result["trigger"] = "stream" if named is not None else "stream: publishing resumed"
        logger.info("publish run finished", extra=result)
        return result  # housekeeping, gauges and reminders are the schedule's
    summary: dict[str, Any] = {}
    try:
        summary = publish(s, context)
    finally:
        emit_health_gauges(s)  # after a failed run too: a draft it left stuck must raise its alarm
        # Reminders belong to the approval stage: a publish run that crashed must not stop
        # approvers hearing about drafts that wait for them.
        reminded = remind(s)
    summary["reminded"] = reminded
    logger.info("publish run finished", extra=summary)
    return summary


def link_checker(s: Services) -> Any:
    """The link pre-flight, run again just before posting, on a short leash: a slow site
    must not eat the time the post itself needs."""
    from hookline.poll.fetch import Fetcher, FetchLimits
    from hookline.poll.linkcheck import preflight
    from hookline.poll.netguard import Guard

    polling = s.config.polling
    fetcher = Fetcher(
        FetchLimits(
            connect_timeout=3,
            read_timeout=4,
            total_timeout=6,
            max_bytes=polling.max_bytes,
            max_redirects=polling.max_redirects,
        ),
        maxsize=2,
        guard=Guard(allow_private=s.settings.allow_private_addresses),
    )
    return lambda url: preflight(fetcher, url, s.config.organisation.tz, clock=s.clock)


def publish(s: Services, context: LambdaContext, named: list[str] | None = None) -> dict[str, Any]:
    """The publish run (`named`: on X only those drafts, see due_now). Anything unforeseen raises:
    the invocation fails into the errors alarm (and, when scheduled, the dead-letter queue), and
    the draft state machine makes the next run safe."""
    # Bluesky and Mastodon first: their deliveries are opened from drafts still APPROVED,
    # before X's run moves them on. A network's trouble stays in its own report.
    networks = (
        publish_networks(
            s.store, s.networks, s.config, s.clock(), lease=timedelta(seconds=s.settings.lease_seconds)
        )
        if s.networks
        else {}
    )
    report = publish_due(
        s.store,
        s.poster,
        s.config,
        s.clock(),
        lease=timedelta(seconds=s.settings.lease_seconds),
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        check_link=link_checker(s),
        named=named,
    )
    # Only what an alarm or the dashboard reads is a metric (each name is billed every month);
    # the rest of the run's figures are in its "publish run finished" log line.
    if s.networks:
        # A draft approved while this run was under way reached X before the other networks saw
        # it APPROVED: open theirs now, the next run posts them.
        from hookline.publish.delivery import open_deliveries

        for draft_id in [*report.published, *report.failed, *report.needs_confirmation]:
            handled = s.store.find_draft(draft_id)
            if handled is not None:
                open_deliveries(s.store, s.config, handled, s.clock())
    count = MetricUnit.Count
    metrics.add_metric(name="Published", unit=count, value=len(report.published))
    metrics.add_metric(name="PublishNeedsConfirmation", unit=count, value=len(report.needs_confirmation))
    metrics.add_metric(name="PublishFailed", unit=count, value=len(report.failed))
    metrics.add_metric(name="PublishRetrying", unit=count, value=len(report.retrying))
    # A network beside X whose guard held it (wrong account, refused credentials) is the same
    # alarm as X's: its hold item says so, where a pause or an unreachable server has none.
    network_held = any(
        result.held and result.held != "paused" and s.store.get_control(f"HOLD#{name}")
        for name, result in networks.items()
    )
    metrics.add_metric(
        name="AccountCheckFailed", unit=count, value=1 if report.account_problem or network_held else 0
    )
    metrics.add_metric(name="UsageCapped", unit=count, value=1 if report.usage_capped else 0)
    if report.account_problem:
        logger.error("publishing held: account check failed", extra={"problem": report.account_problem})
    elif report.usage_capped:
        logger.error("publishing held for the day: X usage cap", extra={"reason": report.held})
    for name, result in networks.items():  # each network's figures are in the summary line
        if result.held and result.held != "paused":
            logger.error("publishing held for one network", extra={"network": name, "reason": result.held})
    return {
        **report.summary(),
        "networks": {
            name: {
                "published": len(r.published),
                "failed": len(r.failed),
                "retrying": len(r.retrying),
                "held": r.held,
            }
            for name, r in networks.items()
        },
    }


# -- reminders (owned by the approval stage; kept apart from publishing on purpose) -----------


def remind(s: Services) -> int:
    """Remind approvers of drafts waiting too long; a failure here never affects publishing."""
    try:
        from hookline.approval.reminders import send_reminders

        reminded = send_reminders(s.store, s.notifier, s.config, s.clock())
    except Exception:
        logger.exception("reminders failed; the next run tries again")
        return 0
    return len(reminded)

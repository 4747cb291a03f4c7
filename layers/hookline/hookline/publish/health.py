"""Health gauges read from the table, for the CloudWatch alarms and the dashboard.

The publish function emits these on every scheduled run (every 5 minutes, inside
the publish window or not), so an alarm sees the table's state even when nothing
is being published. Each gauge is a level, not a count of events: CloudWatch's
Maximum over a period is the worst the table looked in that period.

The names are the metric names the alarms in template.yaml watch; changing one
means changing the alarm (a test checks they match).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hookline.config import Config
from hookline.models import State
from hookline.store import PublishStore

# A PUBLISHING draft is normally settled within one run (the function times out after
# 60 s) or taken over by the next run once its lease has passed. One that is still
# PUBLISHING after this long was not taken over: a person has to look.
STUCK_AFTER = timedelta(minutes=15)

DRAFTS_STUCK_PUBLISHING = "DraftsStuckPublishing"
PENDING_DRAFTS = "PendingDrafts"
OLDEST_PENDING_MINUTES = "OldestPendingMinutes"
PENDING_PAST_REMINDER = "PendingPastReminder"
MONTH_SPEND_PERCENT_OF_CAP = "MonthSpendPercentOfCap"

# CloudWatch units (aws_lambda_powertools' MetricUnit values); it has no unit for minutes.
UNITS = {
    DRAFTS_STUCK_PUBLISHING: "Count",
    PENDING_DRAFTS: "Count",
    OLDEST_PENDING_MINUTES: "None",
    PENDING_PAST_REMINDER: "Count",
    MONTH_SPEND_PERCENT_OF_CAP: "Percent",
}


def gauges(
    store: PublishStore, config: Config, now: datetime, *, stuck_after: timedelta = STUCK_AFTER
) -> dict[str, float]:
    """The table's health right now: stuck attempts, the approval queue, and spend against the cap."""
    stuck = 0
    for draft in store.drafts_in(State.PUBLISHING):
        started = draft.attempt.started_at if draft.attempt else draft.state_at
        if now - started >= stuck_after:
            stuck += 1

    pending = store.drafts_in(State.PENDING)
    reminder_limit = timedelta(hours=config.approval.reminder_after_hours)
    ages = [now - d.created_at for d in pending]
    oldest = max(ages, default=timedelta(0))

    month = now.astimezone(config.organisation.tz).strftime("%Y-%m")
    spent = store.month_spend(month).cents
    cap = round(config.pacing.monthly_spend_cap_usd * 100)
    # A zero cap allows nothing: any spend at all is the whole cap.
    percent = 100.0 * spent / cap if cap > 0 else (100.0 if spent > 0 else 0.0)

    return {
        DRAFTS_STUCK_PUBLISHING: float(stuck),
        PENDING_DRAFTS: float(len(pending)),
        OLDEST_PENDING_MINUTES: round(max(oldest, timedelta(0)).total_seconds() / 60, 1),
        PENDING_PAST_REMINDER: float(sum(1 for age in ages if age >= reminder_limit)),
        MONTH_SPEND_PERCENT_OF_CAP: round(percent, 1),
    }

"""The publish window and the periods a post counts against (the day in the window's timezone,
the month in the organisation's, as the review page shows spend)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hookline.config import Config


def in_window(config: Config, now: datetime) -> bool:
    return config.pacing.window.contains(now, config.pacing.tz(config.organisation))


def periods(config: Config, now: datetime) -> tuple[str, str]:
    """The month (organisation's timezone, as the review page shows spend) and the day (the
    publish window's timezone) a post made now counts against."""
    month = now.astimezone(config.organisation.tz).strftime("%Y-%m")
    day = now.astimezone(config.pacing.tz(config.organisation)).strftime("%Y-%m-%d")
    return month, day


def next_midnight(config: Config, now: datetime) -> datetime:
    tz = config.pacing.tz(config.organisation)
    local = now.astimezone(tz)
    tomorrow = (local + timedelta(days=1)).date()
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=tz)

"""An event's when and where, as a reader of the post wants it, refreshed at the last moment ("tomorrow" becomes "today")."""

from __future__ import annotations

from datetime import datetime, timedelta

from hookline.config import Config
from hookline.models import EventInfo


def _is_all_day(start: datetime, end: datetime | None) -> bool:
    """A date without a time arrives as local midnight; a real event rarely starts then."""
    if (start.hour, start.minute, start.second) != (0, 0, 0):
        return False
    return end is None or (end.hour, end.minute) in ((0, 0), (23, 59))


def describe_when(event: EventInfo, config: Config, now: datetime, *, relative: bool | None = None) -> str:
    """When, in the organisation's time zone: "Tue 3 Jul, 18:00", "today, 18:00–20:00"."""
    compose = config.compose
    tz = config.organisation.tz
    start = event.start.astimezone(tz)
    end = event.end.astimezone(tz) if event.end and event.end > event.start else None
    all_day = _is_all_day(start, end)
    # An all-day end is the last day, as schema.org and the RSS event module write it.
    today = now.astimezone(tz).date()
    relative = compose.relative_days if relative is None else relative
    day = None
    if relative and start.date() == today:
        day = "today"
    elif relative and start.date() == today + timedelta(days=1):
        day = "tomorrow"
    if all_day:
        when = day or start.strftime(compose.date_format)
    elif day:
        when = f"{day}, {start.strftime(compose.time_format)}"
    else:
        when = start.strftime(compose.event_format)
    if end is not None:
        if end.date() == start.date():
            if not all_day:
                when += f"–{end.strftime(compose.time_format)}"
        elif all_day:
            when += f" to {end.strftime(compose.date_format)}"
        else:
            when += f" to {end.strftime(compose.event_format)}"
    return when


def when_variants(event: EventInfo, config: Config, now: datetime) -> list[str]:
    """Every way the when-phrase can read between composing and the event's start.

    A draft composed on Monday saying "tomorrow" may be published on Tuesday, when it
    must say "today": the post is fitted to the longest of these so that
    `refresh_when` never pushes it past the limit.
    """
    variants = {describe_when(event, config, now), describe_when(event, config, now, relative=False)}
    if config.compose.relative_days:
        start = event.start.astimezone(config.organisation.tz)
        for days_before in (0, 1):
            moment = start - timedelta(days=days_before)
            variants.add(describe_when(event, config, moment))
    return sorted(variants)


def refresh_when(text: str, event: EventInfo, config: Config, composed_at: datetime, now: datetime) -> str:
    """The post with its when-phrase brought up to date ("tomorrow" -> "today").

    For the publisher: a draft says "tomorrow" relative to when it was composed. The
    text is changed only where it still contains the phrase hookline wrote; an
    approver's own wording is left alone.
    """
    old = describe_when(event, config, composed_at)
    new = describe_when(event, config, now)
    if old == new or old not in text:
        return text
    return text.replace(old, new, 1)

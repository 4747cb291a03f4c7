"""How hookline runs: when posts may go out and how many, how long approval waits, who is
told, and how feeds are polled."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, HttpUrl, field_validator, model_validator

from hookline.config.accounts import Organisation
from hookline.config.base import WEEKDAYS, ConfigModel, EmailStr, Weekday


def cents(usd: float) -> int:
    """Dollars as whole cents, the unit the table counts spend in."""
    return round(usd * 100)


class Window(ConfigModel):
    """A weekly window (days, start, end) read in a timezone the caller names: the publish
    window, and the approvers' working hours for reminders."""

    days: list[Weekday] = Field(default_factory=lambda: list[Weekday](["mon", "tue", "wed", "thu", "fri"]))
    start: time = time(9, 0)
    end: time = time(17, 30)

    def contains(self, at: datetime, tz: ZoneInfo) -> bool:
        local = at.astimezone(tz)
        return WEEKDAYS[local.weekday()] in self.days and self.start <= local.time() < self.end

    def next_open(self, at: datetime, tz: ZoneInfo) -> datetime:
        """The first moment at or after `at` inside the window, in 15-minute steps, looking a
        week ahead at most (`at` itself when nothing opens in that time)."""
        if self.contains(at, tz):
            return at
        step = timedelta(minutes=15)
        probe = at - timedelta(minutes=at.minute % 15, seconds=at.second, microseconds=at.microsecond) + step
        end = at + timedelta(days=8)
        while probe < end:
            if self.contains(probe, tz):
                return probe
            probe += step
        return at

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError("window 'end' must be after 'start'")
        return self


class PublishWindow(Window):
    """When posts may go out; the timezone defaults to the organisation's."""

    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        return Organisation._known_timezone(value)


class Pacing(ConfigModel):
    window: PublishWindow = Field(default_factory=PublishWindow)
    min_spacing_minutes: int = Field(default=60, ge=0)
    daily_cap: int = Field(
        default=4, ge=0, description="posts per day (the window's timezone); 0 posts nothing"
    )
    monthly_spend_cap_usd: float = Field(default=20.0, ge=0)
    price_per_post_usd: float = Field(default=0.20, ge=0, description="X's price for a post with a link")
    event_priority_hours: int = Field(default=48, ge=0)

    def tz(self, organisation: Organisation) -> ZoneInfo:
        return ZoneInfo(self.window.timezone) if self.window.timezone else organisation.tz


class Approval(ConfigModel):
    reminder_after_hours: float = Field(default=4, gt=0)
    expire_after_days: float = Field(default=7, gt=0)
    link_valid_days: float = Field(default=7, gt=0)
    working_hours: Window = Field(default_factory=Window)


class Webhook(ConfigModel):
    url: HttpUrl
    kind: Literal["slack", "teams"] = "slack"


class Notifications(ConfigModel):
    email_sender: EmailStr | None = None
    sns: bool = True
    webhook: Webhook | None = None


class Polling(ConfigModel):
    # Chosen by measurement (docs/benchmarks.md, "Polling 500 feeds"): feeds are fetched
    # by threads that mostly wait on the network.
    concurrency: int = Field(default=24, ge=1, le=128)
    connect_timeout_seconds: float = Field(default=5, gt=0)
    read_timeout_seconds: float = Field(default=10, gt=0)
    fetch_timeout_seconds: float = Field(
        default=20, gt=0, description="a whole fetch, however slowly the server sends"
    )
    max_bytes: int = Field(default=5_000_000, ge=10_000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    max_new_entries: int = Field(
        default=20, ge=1, description="more new entries than this in one poll is held"
    )
    failure_alarm_after: int = Field(default=3, ge=1)
    initial_drafts: int = Field(
        default=0, ge=0, description="entries drafted on first sight of a feed (0: baseline only)"
    )
    skip_record_days: int = Field(default=30, ge=1)

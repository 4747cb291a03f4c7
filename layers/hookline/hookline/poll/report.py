"""What one poll did, feed by feed: the run's answer and the source of its alarms and log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FeedReport:
    feed_id: str
    ok: bool = True
    status: str = ""
    error: str | None = None
    drafted: list[str] = field(default_factory=list)
    skipped: int = 0
    baselined: int = 0
    held: str | None = None
    failure_streak: int = 0
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def drafted(self) -> int:
        return sum(len(f.drafted) for f in self.feeds)

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if not f.ok]

    @property
    def held(self) -> list[FeedReport]:
        return [f for f in self.feeds if f.held]

    @property
    def not_modified(self) -> int:
        return sum(1 for f in self.feeds if f.status == "not modified")

    def alarming(self, threshold: int) -> list[FeedReport]:
        return [f for f in self.feeds if f.failure_streak >= threshold]

    def summary(self) -> dict[str, Any]:
        return {
            "feeds": len(self.feeds),
            "drafted": self.drafted,
            "skipped": sum(f.skipped for f in self.feeds),
            "not_modified": self.not_modified,
            "failed": [f"{f.feed_id}: {f.error}" for f in self.failed],
            "held": [f"{f.feed_id}: {f.held}" for f in self.held],
        }

"""Approved drafts and publishers for the publish tests: real Store on DynamoDB Local, the real
TweepyPoster talking to X intercepted at the transport (tests/support/x.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hookline.config import Config
from hookline.models import Draft, EventData, State
from hookline.publish.run import PublishReport, publish_due
from hookline.publish.xapi import TweepyPoster
from hookline.store import Store

CREDENTIALS = {
    "consumer_key": "ck-test",
    "consumer_secret": "cs-test-secret",
    "access_token": "at-test",
    "access_token_secret": "ats-test-secret",
}
OTHER_ACCOUNT_CREDENTIALS = {
    "consumer_key": "ck-test",
    "consumer_secret": "cs-test-secret",
    "access_token": "at-someone-else",
    "access_token_secret": "ats-someone-else",
}
LEASE = timedelta(minutes=2)
# Pacing that lets every due draft go out in one run, for tests that are not about pacing.
UNPACED = {"pacing": {"min_spacing_minutes": 0, "daily_cap": 50, "monthly_spend_cap_usd": 100}}


def approved(
    store: Store,
    title: str,
    *,
    at: datetime,
    event_start: datetime | None = None,
    state: State = State.APPROVED,
    **extra: Any,
) -> Draft:
    """A draft approved at `at` whose post is `<title> <link>`."""
    slug = "-".join(title.lower().split())[:60]
    link = f"https://www.example.org/news/{slug}"
    text = f"{title} {link}"
    draft = Draft(
        id=f"d-{slug}",
        feed_id="news",
        state=state,
        kind="event" if event_start else "publication",
        title=title,
        link=link,
        post_link=link,
        text=text,
        composed_text=text,
        weighted_length=len(title) + 1 + 23,
        reason="category 'Report' matched rule 'publications'",
        created_at=at - timedelta(hours=1),
        state_at=at,
        approved_at=at if state is State.APPROVED else None,
        decided_by="Alex Morgan" if state is State.APPROVED else None,
        decided_at=at if state is State.APPROVED else None,
        expires_at=at + timedelta(days=7),
        event=EventData(start=event_start, venue="Town Hall") if event_start else None,
        **extra,
    )
    assert store.create_draft(draft, actor="test")
    return draft


@dataclass
class Credentials:
    """What Secrets Manager would hand out; tests swap the tokens to rotate the secret."""

    values: dict[str, str] = field(default_factory=lambda: dict(CREDENTIALS))
    loads: int = 0

    def __call__(self) -> Mapping[str, str]:
        self.loads += 1
        return dict(self.values)


@dataclass
class Publisher:
    """One publish function container: its own poster (and so its own HTTP session)."""

    store: Store
    config: Config
    clock: Callable[[], datetime]
    credentials: Credentials = field(default_factory=Credentials)
    lease: timedelta = LEASE
    poster: Any = None

    def __post_init__(self) -> None:
        if self.poster is None:
            self.poster = TweepyPoster(self.credentials, self.config.account)

    def run(self, **kwargs: Any) -> PublishReport:
        return publish_due(self.store, self.poster, self.config, self.clock(), lease=self.lease, **kwargs)


def creates(x_api: Any) -> list[str]:
    """Texts of every create request that reached X (answered or not)."""
    return [s.body["text"] for s in x_api.sent if s.url.endswith("/2/tweets") and s.body]


def me_requests(x_api: Any) -> int:
    return sum(1 for s in x_api.sent if s.url.endswith("/2/users/me"))

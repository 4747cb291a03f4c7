"""When an approved post is expected to go out, for the pages and the Approve button's label."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hookline.models import Draft, Queued, State

if TYPE_CHECKING:
    from hookline.config import Config
    from hookline.store import ApprovalStore, Controls


def expected_publish_at(
    store: ApprovalStore,
    config: Config,
    draft: Draft,
    now: datetime,
    controls: Controls | None = None,
    approved: Sequence[Queued] | None = None,
) -> datetime:
    """When an approved draft should go out: after the approved drafts ahead of it, in the window,
    with the spacing and the daily cap. An estimate shown to people, not a promise.

    `controls` and `approved` (the approved queue), when the caller has read them already, save
    reading them again."""
    pacing = config.pacing
    tz = config.organisation.tz
    spacing = timedelta(minutes=pacing.min_spacing_minutes)
    horizon = now + timedelta(hours=pacing.event_priority_hours)

    def order(d: Queued) -> tuple[int, datetime]:
        if d.event_start and d.event_start <= horizon:
            return (0, d.event_start)
        return (1, d.approved_at or d.state_at)

    mine = order(Queued.of(draft))
    queue = approved if approved is not None else store.queued(State.APPROVED)
    ahead = sum(1 for d in queue if d.id != draft.id and order(d) < mine)
    at = max(now, draft.not_before or now)
    last = controls.last_post_at if controls is not None else store.last_post_at()
    if last:
        at = max(at, last + spacing)
    day = at.astimezone(tz).date()
    if controls is None:
        posts_today = store.posts_on(day.isoformat())
    else:
        known = controls.posts_on(day.isoformat())
        if known is None:  # another day than the one read (an evening, a later not_before): read it alike
            known = store.controls(day.strftime("%Y-%m"), [day.isoformat()]).posts_on(day.isoformat())
        posts_today = known or 0
    for slot in range(ahead + 1):
        at = pacing.window.next_open(at, tz)
        if at.astimezone(tz).date() != day:
            day, posts_today = at.astimezone(tz).date(), 0
        while pacing.daily_cap and posts_today >= pacing.daily_cap:
            local = at.astimezone(tz)
            tomorrow = datetime.combine(local.date() + timedelta(days=1), pacing.window.start, tzinfo=tz)
            at = pacing.window.next_open(tomorrow, tz)
            day, posts_today = at.astimezone(tz).date(), 0
        if slot < ahead:
            posts_today += 1
            at += spacing
    return at

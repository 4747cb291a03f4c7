"""Remind approvers of drafts that have waited too long, inside working hours only.

The scheduled publish run calls `send_reminders` each time it runs. A draft is
reminded once: the first run inside the organisation's working hours after it has
waited `approval.reminder_after_hours` claims it with a conditional write on the
draft (`reminded_at`), so two overlapping runs cannot both remind, and then sends
every channel (personal links by email, view-only links to SNS and the webhook).
If a channel fails, the claim is released and the next run retries; the channels
that did go out are not sent again (their markers say so).

A draft that waited over a weekend is reminded at the start of Monday's working
hours: the waiting time is wall-clock time, only the sending waits for working hours.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from hookline.approval.notify import NotifyError
from hookline.config import Config
from hookline.models import Draft, State
from hookline.store import DraftStore

log = logging.getLogger(__name__)


class ReminderNotifier(Protocol):
    def new_draft(self, draft: Draft, now: datetime, *, reminder: bool = False) -> list[str]: ...


def due_for_reminder(draft: Draft, config: Config, now: datetime) -> bool:
    if draft.state is not State.PENDING or draft.reminded_at is not None:
        return False
    if now - draft.created_at < timedelta(hours=config.approval.reminder_after_hours):
        return False
    # About to expire anyway: a reminder would only lead to a link that cannot decide.
    if draft.expires_at and draft.expires_at <= now:
        return False
    return not (draft.event and draft.event.start <= now)


def send_reminders(store: DraftStore, notifier: ReminderNotifier, config: Config, now: datetime) -> list[str]:
    """Remind approvers of every draft due a reminder; returns the ids of the drafts reminded."""
    if not config.approval.working_hours.contains(now, config.organisation.tz):
        return []
    reminded = []
    for draft in sorted(store.drafts_in(State.PENDING), key=lambda d: d.created_at):
        if not due_for_reminder(draft, config, now):
            continue
        if not store.claim_reminder(draft.id, now):
            continue  # decided meanwhile, or another run is reminding it
        try:
            notifier.new_draft(draft, now, reminder=True)
        except Exception as exc:  # one draft's failure must not stop the others, nor publishing
            store.release_reminder(draft.id, now)
            log.warning(
                "reminder not sent; the next run retries",
                extra={
                    "draft_id": draft.id,
                    "error": str(exc) if isinstance(exc, NotifyError) else type(exc).__name__,
                },
            )
            continue
        reminded.append(draft.id)
    if reminded:
        log.info("reminders sent", extra={"drafts": reminded})
    return reminded

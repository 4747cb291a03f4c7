"""The approver's queue page, 'Draft this' on a skipped entry, and the pause switch."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hookline.approval.base import ApprovalsBase, Page
from hookline.approval.forms import MAX_REASON, first, reason
from hookline.approval.views import render_html
from hookline.clock import parse_iso
from hookline.errors import BadRequest, Conflict, NotFound
from hookline.models import State
from hookline.store import ApprovalStore, SkipConflict

MAX_SKIPS_SHOWN = 50


class QueuePages(ApprovalsBase):
    def queue(self, token: str, *, notice: dict[str, str] | None = None) -> Page:
        approver = self._queue_approver(token)
        now = self.clock()
        pending = sorted(self.store.drafts_in(State.PENDING), key=lambda d: d.created_at)
        approved = sorted(self.store.drafts_in(State.APPROVED), key=lambda d: d.approved_at or d.state_at)
        base = self.signer.base_url
        controls = self.store.controls(now.astimezone(self.tz).strftime("%Y-%m"))
        hold = controls.hold
        skips = self.store.kept_skips(MAX_SKIPS_SHOWN, now=now) if self.invoker is not None else []
        return Page(
            200,
            render_html(
                "queue.html",
                skips=[self._skip_view(record) for record in skips],
                config=self.config,
                viewer=approver,
                pending=[{"draft": d, "url": self.signer.decide_url(d, approver.email)} for d in pending],
                approved=[{"draft": d, "url": self.signer.decide_url(d, approver.email)} for d in approved],
                token=token,
                notice=notice,
                pause=controls.pause,
                hold=hold.get("reason") if hold else None,
                now=now,
                tz=self.tz,
                pause_url=f"{base}/controls/pause",
                resume_url=f"{base}/controls/resume",
            ),
        )

    def _skip_view(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """What the queue page shows of a kept skip (every field there, for the strict template)."""
        view = {
            name: record.get(name)
            for name in (
                "title",
                "link",
                "feed_id",
                "reason",
                "requested_by",
                "requested_at",
                "draft_id",
                "draft_error",
            )
        }
        view["skipped_at"] = parse_iso(str(record["at"]))
        view["url"] = f"{self.signer.base_url}/skips/{record['feed_id']}/{record['key']}"
        return view

    def draft_skip(self, feed_id: str, key: str, form: Mapping[str, Any]) -> Page:
        """'Draft this' on a skipped entry: recorded once, then handed to the poll function,
        which composes it as a poll would (this function has no time to fetch the page)."""
        if first(form, "action") != "draft":
            raise BadRequest("Nothing changed: press the Draft this button to have the entry drafted.")
        approver = self._queue_approver(first(form, "token") or "")
        if self.invoker is None:
            raise NotFound("Drafting skipped entries by hand is not set up for this deployment.")
        if self.config.feed(feed_id) is None:
            raise NotFound("There is no such feed in the configuration.")
        now = self.clock()
        try:
            record = self.store.request_skip_draft(feed_id, key, by=approver.name, now=now)
        except SkipConflict as exc:
            if exc.record is None:
                raise NotFound(
                    "There is no such skipped entry: its record may have expired, or the link is incomplete."
                ) from None
            at = parse_iso(str(exc.record["requested_at"])).astimezone(self.tz)
            raise Conflict(
                f"{exc.record.get('requested_by')} already asked for this entry to be drafted "
                f"at {at:%a %-d %b %Y, %H:%M %Z}; it is drafted once."
            ) from None
        try:
            self.invoker.invoke_async(
                {"action": "draft-skip", "feed_id": feed_id, "key": key, "by": approver.name}
            )
        except Exception:
            self.store.release_skip_request(feed_id, key)  # so the button works when it is pressed again
            raise
        text = (
            f"\u201c{record.get('title', '')}\u201d is being drafted. It joins the queue above within "
            "a minute, and approvers are told as for any draft."
        )
        return self.queue(first(form, "token") or "", notice={"tone": "ok", "text": text})

    def set_pause(self, form: Mapping[str, Any], paused: bool) -> Page:
        wanted = "pause" if paused else "resume"
        if first(form, "action") != wanted:
            raise BadRequest(
                f"Nothing changed: press the {wanted.capitalize()} button to {wanted} publishing."
            )
        token = first(form, "token") or ""
        approver = self._queue_approver(token)
        why = reason(form)
        if paused and not why:
            raise BadRequest("Say why publishing is paused, so others know when it is safe to resume.")
        self.store.set_pause(paused, by=f"{approver.name} <{approver.email}>", reason=why, now=self.clock())
        text = (
            "Publishing is paused. Drafts keep queuing; nothing is posted until someone resumes."
            if paused
            else "Publishing resumed. Approved posts go out at the next slot; expired ones do not."
        )
        return self.queue(token, notice={"tone": "ok", "text": text})


def pause_from_cli(store: ApprovalStore, *, paused: bool, reason: str | None, by: str, now: datetime) -> str:
    reason = " ".join((reason or "").split())[:MAX_REASON] or None
    if paused and not reason:
        raise BadRequest("--reason is required to pause: say why, so others know when it is safe to resume")
    state = store.set_pause(paused, by=by, reason=reason, now=now)
    return f"publishing {'paused' if state.paused else 'resumed'} by {by}" + (f": {reason}" if reason else "")

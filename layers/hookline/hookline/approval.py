"""Review and decide: what the approvals endpoint does, free of HTTP and Lambda.

A GET never changes anything (mail scanners fetch links). A decision needs the
`action` of the button the approver clicked; a form submitted without a click has
none and is refused. Each draft takes one decision: the store's conditional write
lets exactly one of two racing approvers win, and the other is told who did.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hookline.clock import Clock
from hookline.config import Approver, Config
from hookline.errors import BadRequest, Conflict, Forbidden, Invalid, NotFound
from hookline.links import LinkSigner
from hookline.models import Draft, State
from hookline.store import StateConflict, Store
from hookline.views import render_html

ACTIONS: dict[str, tuple[tuple[State, ...], State]] = {
    "approve": ((State.PENDING,), State.APPROVED),
    "reject": ((State.PENDING,), State.REJECTED),
    "withdraw": ((State.APPROVED,), State.REJECTED),
    "retry": ((State.FAILED,), State.APPROVED),
}
PAST = {
    "APPROVED": "approved",
    "REJECTED": "rejected",
    "PUBLISHED": "published",
    "EXPIRED": "expired",
    "PUBLISHING": "being published",
    "FAILED": "refused by X",
    "PENDING": "waiting",
}
MAX_LENGTH = 280


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def _first(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def next_slot(store: Store, config: Config, now: datetime) -> datetime:
    """When an approval made now would go out, at the earliest, given window and spacing."""
    from hookline.publish import in_window

    at = now
    last = store.last_post_at()
    if last:
        at = max(at, last + timedelta(minutes=config.pacing.min_spacing_minutes))
    for _ in range(8 * 24 * 4):  # step through a week and a day in 15-minute steps
        if in_window(config, at):
            return at
        at += timedelta(minutes=15)
    return at


class Approvals:
    def __init__(self, config: Config, store: Store, signer: LinkSigner, clock: Clock) -> None:
        self.config = config
        self.store = store
        self.signer = signer
        self.clock = clock

    # -- pages -----------------------------------------------------------------------------

    def _draft(self, draft_id: str) -> Draft:
        draft = self.store.find_draft(draft_id)
        if draft is None:
            raise NotFound("There is no such draft. It may have been removed, or the link is incomplete.")
        return draft

    def _viewer(self, email: str | None) -> Approver | None:
        return self.config.approver(email) if email else None

    def _approver(self, email: str | None) -> Approver:
        approver = self._viewer(email)
        if approver is None:
            raise Forbidden("This link belongs to someone who is no longer an approver.")
        return approver

    def review(
        self,
        draft_id: str,
        token: str,
        *,
        notice: dict[str, str] | None = None,
        edit_text: str | None = None,
        status: int = 200,
    ) -> Page:
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        draft = self._draft(draft_id)
        return Page(
            status, self._render_review(draft, token, self._viewer(claims.approver), notice, edit_text)
        )

    def _render_review(
        self,
        draft: Draft,
        token: str,
        viewer: Approver | None,
        notice: dict[str, str] | None,
        edit_text: str | None,
    ) -> str:
        from hookline.publish import cents

        now = self.clock()
        month = now.astimezone(self.config.organisation.tz).strftime("%Y-%m")
        hold = self.store.get_control("HOLD")
        expected = next_slot(self.store, self.config, now) if draft.state is State.APPROVED else None
        if expected and draft.not_before and draft.not_before > expected:
            expected = draft.not_before
        return render_html(
            "review.html",
            config=self.config,
            draft=draft,
            token=token,
            viewer=viewer,
            notice=notice,
            edit_text=edit_text,
            audit=self.store.audit(draft.id),
            pause=self.store.pause_state(),
            hold=hold.get("reason") if hold else None,
            spend=self.store.month_spend(month),
            cap_cents=cents(self.config.pacing.monthly_spend_cap_usd),
            price_cents=cents(self.config.pacing.price_per_post_usd),
            expected=expected,
            action_url=f"{self.signer.base_url}/drafts/{draft.id}",
            tz=self.config.organisation.tz,
        )

    # -- decisions -------------------------------------------------------------------------

    def decide(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        action = _first(form, "action")
        if action not in ACTIONS:
            raise BadRequest(
                "No decision was made: the form arrived without a button press. "
                "Open the link and press Approve or Reject."
            )
        token = _first(form, "token") or ""
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        approver = self._viewer(claims.approver)
        if approver is None:
            raise Forbidden("This is a view-only link; it cannot decide. Use the personal link sent to you.")
        draft = self._draft(draft_id)
        expected, target = ACTIONS[action]
        if draft.state not in expected:
            raise Conflict(self._conflict_message(draft, action))

        now = self.clock()
        actor = f"{approver.name} <{approver.email}>"
        changes: dict[str, Any] = {"decided_by": approver.name, "decided_at": now}
        text_after = None
        reason = (_first(form, "reason") or "").strip()[:500] or None
        label = action
        if action == "approve":
            changes["approved_at"] = now
            edited = _first(form, "text")
            if edited is not None and _normalise(edited) != _normalise(draft.text):
                try:
                    text_after, length = self._check_edit(draft, edited)
                except Invalid as exc:
                    return self.review(
                        draft_id,
                        token,
                        notice={"tone": "error", "text": str(exc)},
                        edit_text=edited,
                        status=422,
                    )
                changes.update(text=text_after, weighted_length=length)
                label = "edit and approve"
        elif action == "retry":
            changes.update(not_before=now)
        try:
            updated = self.store.transition(
                draft,
                target,
                actor=actor,
                action=label,
                expect=expected,
                changes=changes,
                remove=["failure"] if action == "retry" else [],
                reason=reason,
                text_after=text_after,
            )
        except StateConflict as exc:
            raise Conflict(self._conflict_message(exc.draft or draft, action)) from None
        notice = self._result_notice(updated, action, now)
        return Page(200, self._render_review(updated, token, approver, notice, None))

    def _result_notice(self, draft: Draft, action: str, now: datetime) -> dict[str, str]:
        tz = self.config.organisation.tz
        if action in ("approve", "retry"):
            expected = next_slot(self.store, self.config, now)
            if self.store.pause_state().paused:
                when = "when publishing resumes (it is paused)"
            else:
                when = f"at about {expected.astimezone(tz):%a %-d %b, %H:%M %Z}"
            return {"tone": "ok", "text": f"Approved. It is expected to go out {when}."}
        if action == "withdraw":
            return {"tone": "ok", "text": "Approval withdrawn. Nothing will be posted."}
        return {"tone": "ok", "text": "Rejected. Nothing will be posted."}

    def _conflict_message(self, draft: Draft, action: str) -> str:
        state = PAST.get(draft.state.value, draft.state.value.lower())
        who = f" by {draft.decided_by}" if draft.decided_by and draft.state is not State.EXPIRED else ""
        when = ""
        at = draft.decided_at or draft.state_at
        if at:
            when = f" at {at.astimezone(self.config.organisation.tz):%a %-d %b, %H:%M %Z}"
        verb = {"approve": "approved", "reject": "rejected", "withdraw": "withdrawn", "retry": "retried"}[
            action
        ]
        return f"This draft was already {state}{who}{when}, so it cannot be {verb} now."

    def _check_edit(self, draft: Draft, edited: str) -> tuple[str, int]:
        from hookline.compose import clean_text, weighted_length

        text = clean_text(edited, neutralise=False)
        if not text:
            raise Invalid("The edited post is empty. Write the post, or reject the draft.")
        if draft.post_link not in text:
            raise Invalid(f"The edited post must keep the link {draft.post_link} exactly as it is.")
        length = weighted_length(text)
        if length > MAX_LENGTH:
            raise Invalid(
                f"The edited post is {length} characters as X counts them; the most is {MAX_LENGTH}."
            )
        return text, length

    # -- queue and the pause switch --------------------------------------------------------

    def queue(self, token: str, *, notice: dict[str, str] | None = None) -> Page:
        claims = self.signer.read_queue_token(token, self.config)
        approver = self._approver(claims.approver)
        pending = sorted(self.store.drafts_in(State.PENDING), key=lambda d: d.created_at)
        items = [
            {"draft": d, "url": self.signer.review_url(d.id, self.signer.decide_token(d.id, approver.email))}
            for d in pending
        ]
        base = self.signer.base_url
        return Page(
            200,
            render_html(
                "queue.html",
                config=self.config,
                viewer=approver,
                items=items,
                token=token,
                notice=notice,
                pause=self.store.pause_state(),
                now=self.clock(),
                tz=self.config.organisation.tz,
                pause_url=f"{base}/controls/pause",
                resume_url=f"{base}/controls/resume",
            ),
        )

    def set_pause(self, form: Mapping[str, Any], paused: bool) -> Page:
        token = _first(form, "token") or ""
        claims = self.signer.read_queue_token(token, self.config)
        approver = self._approver(claims.approver)
        wanted = "pause" if paused else "resume"
        if _first(form, "action") != wanted:
            raise BadRequest(
                f"Nothing changed: press the {wanted.capitalize()} button to {wanted} publishing."
            )
        reason = (_first(form, "reason") or "").strip()[:500]
        if paused and not reason:
            raise BadRequest("Say why publishing is paused, so others know when it is safe to resume.")
        self.store.set_pause(
            paused, by=f"{approver.name} <{approver.email}>", reason=reason or None, now=self.clock()
        )
        text = (
            "Publishing is paused. Drafts keep queuing; nothing is posted until someone resumes."
            if paused
            else "Publishing resumed. Approved posts go out at the next slot; expired ones do not."
        )
        return self.queue(token, notice={"tone": "ok", "text": text})


def _normalise(text: str) -> str:
    return " ".join(text.split())


def pause_from_cli(store: Store, *, paused: bool, reason: str | None, by: str, now: datetime) -> str:
    if paused and not reason:
        raise BadRequest("--reason is required to pause")
    state = store.set_pause(paused, by=by, reason=reason, now=now)
    return f"publishing {'paused' if state.paused else 'resumed'} by {by}" + (f": {reason}" if reason else "")

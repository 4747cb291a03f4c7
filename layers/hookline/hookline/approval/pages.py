"""The review and result pages: what they show of a draft, and why a decision was refused.

The view-model (`_context`) is shared by both pages; nothing here changes a draft.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.approval.base import ApprovalsBase, Page, together
from hookline.approval.deliveries import DeliveryView, delivery_view
from hookline.approval.edits import MAX_LENGTH
from hookline.approval.schedule import expected_publish_at
from hookline.approval.views import render_html
from hookline.config import Approver, cents
from hookline.models import AuditEntry, Draft, Queued, State

if TYPE_CHECKING:
    from hookline.approval.renditions import Parts, Rendition
    from hookline.store import Controls

PAST = {"APPROVED": "approved", "REJECTED": "rejected"}
VERB = {
    "approve": "approved",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "retry": "retried",
    "change-link": "changed",
}
# An approval whose post would go out later than this is labelled with the time it goes out.
SOON = timedelta(minutes=1)


class ReviewPages(ApprovalsBase):
    # -- the review page -------------------------------------------------------------------

    def review(self, draft_id: str, token: str) -> Page:
        # The token is checked before anything is read; then the draft with its history (one
        # Query) and the controls (one BatchGetItem) are read at once.
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        (found, audit), controls, approved = together(
            lambda: self.store.draft_and_audit(draft_id),
            self._controls,
            lambda: self.store.queued(State.APPROVED),  # for when an approval now would go out
        )
        draft, viewer = self._opened(claims, self._found(found))
        html = self._render_review(
            draft,
            token,
            viewer,
            audit=audit,
            controls=controls,
            approved=approved,
            track=self._track_record(draft),
        )
        return Page(200, html)

    def _track_record(self, draft: Draft, last: int = 14) -> str | None:
        """How the team decided the latest drafts made the same way (rule and term), for the line
        under "why it was queued": "approved 12 of the last 14 drafts from this rule"."""
        if not draft.rule or not draft.term or draft.by_hand:
            return None
        rule, term = draft.rule, draft.term
        states = (State.APPROVED, State.PUBLISHED, State.REJECTED, State.EXPIRED)
        found = together(
            *(lambda s=s: [(at, s) for _, at in self.store.decided_like(s, rule, term)] for s in states)
        )
        latest = sorted((pair for pairs in found for pair in pairs), reverse=True)[:last]
        if not latest:
            return None
        approved = sum(1 for _, state in latest if state in (State.APPROVED, State.PUBLISHED))
        kind, _, written = term.partition(":")
        how = f"{kind} {written!r}" if written else "an event date"
        return f"The team approved {approved} of the last {len(latest)} drafts from this rule ({how}, rule {rule!r})."

    def _render_review(
        self,
        draft: Draft,
        token: str,
        viewer: Approver | None,
        *,
        notice: dict[str, str] | None = None,
        hooks: dict[str, str | Parts] | None = None,
        audit: list[AuditEntry] | None = None,
        controls: Controls | None = None,
        approved: Sequence[Queued] | None = None,
        track: str | None = None,
        reject_step: bool = False,
        new_link: str | None = None,
        deliveries: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> str:
        audit = audit if audit is not None else self.store.audit(draft.id)
        context = self._context(
            draft, token, viewer, controls, approved, audit=audit, hooks=hooks, deliveries=deliveries
        )
        return render_html(
            "review.html",
            **context,
            track=track,
            notice=notice,
            audit=audit,
            reject_step=reject_step,
            new_link=new_link,
        )

    def _context(
        self,
        draft: Draft,
        token: str,
        viewer: Approver | None,
        controls: Controls | None = None,
        approved: Sequence[Queued] | None = None,
        *,
        audit: Sequence[AuditEntry] = (),
        hooks: dict[str, str | Parts] | None = None,
        deliveries: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        from hookline.approval.renditions import renditions

        now = self.clock()
        controls = controls or self._controls()
        hold = controls.hold
        spend = controls.month
        shown = renditions(self.config, draft, audit, hooks)
        price = sum(r.price_cents for r in shown)
        cap = cents(self.config.pacing.monthly_spend_cap_usd)
        over_cap = spend.cents + price > cap
        expected = None
        if draft.state is State.APPROVED:  # the only state the pages show it for; it reads the approved queue
            expected = expected_publish_at(self.store, self.config, draft, now, controls, approved)
        approve_label = None
        if draft.state is State.PENDING and viewer is not None:
            approve_label = self._approve_label(draft, shown, now, controls, approved, over_cap=over_cap)
        return {
            "deliveries": self._deliveries(draft, deliveries),
            "renditions": shown,
            "approve_label": approve_label,
            "account_note": self._account_note(controls),
            "verdict": check_verdict(draft.preflight),
            "config": self.config,
            "draft": draft,
            "token": token,
            "viewer": viewer,
            "pause": controls.pause,
            "hold": hold.get("reason") if hold else None,
            "spend": spend,
            "cap_cents": cap,
            "price_cents": price,
            "over_cap": over_cap,
            "expected": expected,
            "action_url": f"{self.signer.base_url}/drafts/{draft.id}",
            "queue_url": self.signer.queue_url(self.signer.queue_token(viewer.email)) if viewer else None,
            "tz": self.tz,
            "now": now,
            "max_length": MAX_LENGTH,
        }

    def _deliveries(
        self, draft: Draft, stored: Mapping[str, Mapping[str, Any]] | None
    ) -> dict[str, DeliveryView]:
        """Each other network's delivery as the page says it, once the draft is decided (`stored`:
        the deliveries, when the caller has them)."""
        others = [n for n in self.config.networks if n != "x"]
        if draft.state is State.PENDING or not others:
            return {}
        if stored is None:
            stored, holds = together(
                lambda: self.store.deliveries_of(draft.id), lambda: self.store.network_holds(others)
            )
        else:
            holds = self.store.network_holds(others)
        return {n: delivery_view(n, stored.get(n), holds.get(n), draft, self.tz) for n in others}

    def _approve_label(
        self,
        draft: Draft,
        shown: Sequence[Rendition],
        now: datetime,
        controls: Controls,
        approved: Sequence[Queued] | None,
        *,
        over_cap: bool,
    ) -> str:
        """The Approve button names what pressing it does: where it posts and what it costs, or,
        when the post must wait, when it goes out."""
        from hookline.approval.views import usd

        if controls.pause.paused:
            return "Approve (goes out when publishing resumes)"
        if controls.hold:
            return "Approve (goes out once the account check passes)"
        if over_cap:
            return "Approve (goes out when next month's spend cap opens)"
        if_now = draft.model_copy(update={"state": State.APPROVED, "approved_at": now, "state_at": now})
        at = expected_publish_at(self.store, self.config, if_now, now, controls, approved)
        if at > now + SOON:
            local, today = at.astimezone(self.tz), now.astimezone(self.tz).date()
            return (
                f"Approve (goes out at {local:%H:%M})"
                if local.date() == today
                else (f"Approve (goes out {local:%a %-d %b, %H:%M})")
            )
        names = ", ".join(r.name for r in shown)
        if not names:
            return "Approve"
        return f"Approve and post to {names} ({usd(sum(r.price_cents for r in shown))})"

    def _account_note(self, controls: Controls) -> str | None:
        """A warning when the publisher's last check found the credentials are another account's."""
        record = controls.account
        if self.config.accounts.x is None or not record:
            return None
        handle = self.config.account.bare_handle
        if record.get("expected") != self.config.account.user_id:
            return None
        username = record.get("username")
        if not record.get("ok"):
            if record.get("kind") == "account" and username:
                return (
                    f"The X credentials belong to @{username}, not @{handle}: nothing is posted "
                    "until they are the corporate account's again."
                )
            return f"The X credentials cannot be used ({record.get('problem') or 'no reason given'})."
        if username and str(username).casefold() != handle.casefold():
            return (
                f"The X credentials' account is called @{username} now (the same account id); "
                f"the configuration says @{handle}. Check the handle in the configuration."
            )
        return None

    # -- the result page and refusals ------------------------------------------------------

    def _render_result(
        self,
        draft: Draft,
        token: str,
        approver: Approver,
        action: str,
        controls: Controls,
        queue: list[Queued] | None,
        audit: list[AuditEntry],
    ) -> str:
        # `draft` and `audit` are as this decision left them: nothing is read back.
        context = self._context(draft, token, approver, controls, queue)
        posting_now = False
        if action in ("approve", "retry"):
            expected = context["expected"]
            if context["pause"].paused:
                when = "It is expected to go out when publishing resumes (it is paused now)."
            elif context["hold"]:
                when = "It is expected to go out once the account hold shown below is cleared."
            elif context["over_cap"]:
                when = "It waits: this post would go over the month's spend cap (below)."
            elif expected is None or expected <= context["now"]:
                # Its approval has started the publisher already (the table's stream)
                posting_now = True
                when = "Posting now: it goes out within seconds."
            else:
                when = (
                    f"It is expected to go out at about {expected.astimezone(self.tz):%a %-d %b, %H:%M %Z}."
                )
            title = "Approved" if action == "approve" else "Publishing will be retried"
            text = f"{when} You can withdraw it until then."
        elif action == "withdraw":
            title, text = "Approval withdrawn", "Nothing will be posted."
        else:
            title, text = "Rejected", "Nothing will be posted."
        return render_html(
            "result.html",
            **context,
            title=title,
            result=text,
            action=action,
            audit=audit,
            posting_now=posting_now,
            review_url=self.signer.review_url(draft.id, token),
            history_heading="This decision (the review page shows the whole history)",
        )

    def _conflict_message(self, draft: Draft, action: str) -> str:
        def at(value: datetime | None) -> str:
            return f" at {value.astimezone(self.tz):%a %-d %b %Y, %H:%M %Z}" if value else ""

        approved_by = f" (approved by {draft.decided_by})" if draft.decided_by else ""
        state = draft.state
        if state in (State.APPROVED, State.REJECTED):
            by = f" by {draft.decided_by}" if draft.decided_by else ""
            what = f"already {PAST[state.value]}{by}{at(draft.decided_at or draft.state_at)}"
        elif state is State.PUBLISHED:
            what = f"already published{at(draft.published_at or draft.state_at)}{approved_by}"
        elif state is State.PUBLISHING:
            return f"This draft is being published right now{approved_by}, so it cannot be {VERB[action]}."
        elif state is State.FAILED:
            what = f"refused by X{at(draft.state_at)}{approved_by}"
        elif state is State.EXPIRED:
            what = f"expired{at(draft.state_at)} (nobody decided in time, or the event started)"
        else:
            return f"This draft is still waiting for a decision, so it cannot be {VERB[action]} yet."
        return f"This draft was {what}, so it cannot be {VERB[action]} now."


def check_verdict(preflight: Mapping[str, Any] | None) -> dict[str, str]:
    """The link check in one line, for the summary above the button."""
    if not preflight:
        return {"tone": "warn", "text": "The linked page was not checked."}
    checks = list(preflight.get("checks") or [])
    warnings = [str(c.get("message")) for c in checks if not c.get("ok")]
    if not warnings:
        return {"tone": "ok", "text": f"OK: all {len(checks)} checks pass." if checks else "OK."}
    more = f" (and {len(warnings) - 1} more below)" if len(warnings) > 1 else ""
    return {"tone": "warn", "text": f"Warning: {warnings[0]}{more}"}

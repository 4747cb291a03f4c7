"""Decide: approve, reject, withdraw or retry a draft, each from the states it may start from.

A decision needs the `action` of the button the approver clicked; a form submitted without a
click has none and is refused. Each draft takes one decision: the store's conditional write lets
exactly one of two racing approvers win, and the other is told who did.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hookline.approval.base import Page, readers
from hookline.approval.change_link import LinkChange
from hookline.approval.edits import check_edit, check_network_edit, edited_text, network_edit
from hookline.approval.forms import first, left_out, reason
from hookline.approval.network_retry import NetworkRetry
from hookline.clock import iso
from hookline.config import Approver
from hookline.errors import BadRequest, Conflict, Forbidden, Invalid
from hookline.models import Draft, State
from hookline.store import Controls, Move, StateConflict

if TYPE_CHECKING:
    from hookline.approval.renditions import Parts

log = logging.getLogger(__name__)

# action -> (states it may start from, state it leads to)
ACTIONS: dict[str, tuple[tuple[State, ...], State]] = {
    "approve": ((State.PENDING,), State.APPROVED),
    "reject": ((State.PENDING,), State.REJECTED),
    "withdraw": ((State.APPROVED,), State.REJECTED),
    "retry": ((State.FAILED,), State.APPROVED),
}


class Decisions(LinkChange, NetworkRetry):
    def decide(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        action = first(form, "action")
        if action is None and first(form, "step") == "reject":
            return self._reject_step(draft_id, form)
        if action == "change-link":
            return self._change_link(draft_id, form)
        network = (first(form, "network") or "x").strip().lower()
        if action == "retry" and network != "x":
            return self._retry_network(draft_id, form, network)
        if action not in ACTIONS:
            raise BadRequest(
                "No decision was made: the form arrived without a button press. "
                "Open the link and press Approve or Reject."
            )
        token = first(form, "token") or ""
        claims = self.signer.read_draft_token(token, draft_id, self.config)
        # Two reads at once, then the write: the draft with the controls (one BatchGetItem), and for
        # an approval the queue it joins (one Query of the index), which do not depend on the draft.
        # The history is not read: the result page shows this decision, the review page all of them.
        queue = (
            readers().submit(self.store.queued, State.APPROVED) if action in ("approve", "retry") else None
        )
        local = self.clock().astimezone(self.tz)
        found, controls = self.store.draft_and_controls(
            draft_id, local.strftime("%Y-%m"), [local.date().isoformat()]
        )
        draft, approver = self._opened(claims, self._found(found))
        if approver is None:
            raise Forbidden("This is a view-only link; it cannot decide. Use the personal link sent to you.")
        expected, target = ACTIONS[action]
        if draft.state not in expected:
            raise Conflict(self._conflict_message(draft, action))

        now = self.clock()
        changes: dict[str, Any] = {"decided_by": approver.name, "decided_at": now}
        remove: list[str] = []
        text_after = None
        label = action
        if action == "approve":
            approval = self._approval(draft, form, token, approver, controls, changes)
            if isinstance(approval, Page):
                return approval
            text_after, label = approval
        elif action == "retry":
            changes.update(not_before=now, approved_at=now)
            remove.append("failure")
        try:
            after, entry = self.store.write_transition(
                draft,
                Move(
                    target,
                    actor=f"{approver.name} <{approver.email}>",
                    action=label,
                    expect=expected,
                    changes=changes,
                    remove=remove,
                    reason=reason(form),
                    text_after=text_after,
                ),
            )
        except StateConflict as exc:
            raise Conflict(self._conflict_message(exc.draft or draft, action)) from None
        if action == "approve" and any(n != "x" for n in self.config.networks):
            self._open_deliveries(after)
        html = self._render_result(
            after, token, approver, action, controls, queue.result() if queue else None, [entry]
        )
        return Page(200, html)

    def _approval(
        self,
        draft: Draft,
        form: Mapping[str, Any],
        token: str,
        approver: Approver,
        controls: Controls,
        changes: dict[str, Any],
    ) -> tuple[str | None, str] | Page:
        """What an approval changes (into `changes`), and X's edited post and the audit's label;
        or the review page again, with what to fix, when an approver's edit cannot be posted."""
        changes["approved_at"] = changes["decided_at"]
        unticked = left_out(form, self.config.networks)
        # Kept on the draft's renditions, where the deliveries are opened from.
        networks = {name: dict(made) for name, made in draft.networks.items()}
        for name in unticked:
            networks.setdefault(name, {})["included"] = False
        typed = self._typed(draft, form, unticked)
        text_after, label, edits = None, "approve", {}
        try:
            if "x" in typed:
                edited, words = typed["x"]
                if words is not None and not words.strip():
                    raise Invalid("The edited post is empty: write its words, or reject the draft.")
                text_after, length = check_edit(self.config, draft, edited)
                if text_after == draft.text:
                    text_after = None
                else:
                    changes.update(text=text_after, weighted_length=length)
                    label = "edit and approve"
            for name, (edited, words) in typed.items():
                if name != "x":
                    edits[name] = check_network_edit(self.config, draft, name, edited, words)
        except Invalid as exc:
            # The approver's words stay in their boxes, with what to fix; nothing changes.
            from hookline.approval.renditions import split_post

            hooks: dict[str, str | Parts] = {
                name: words if words is not None else split_post(edited, self._link_of(draft, name))
                for name, (edited, words) in typed.items()
            }
            notice = {"tone": "error", "text": str(exc)}
            html = self._render_review(draft, token, approver, notice=notice, hooks=hooks, controls=controls)
            return Page(422, html)
        for name, (text, length) in edits.items():
            if text != (draft.networks.get(name) or {}).get("text"):
                at = iso(changes["decided_at"])
                networks.setdefault(name, {}).update(
                    text=text, length=length, edited_by=approver.name, edited_at=at
                )
                label = "edit and approve"
        if networks != draft.networks:
            changes["networks"] = networks
        return text_after, label

    def _typed(
        self, draft: Draft, form: Mapping[str, Any], unticked: list[str]
    ) -> dict[str, tuple[str, str | None]]:
        """Each network's post the approver changed (X's `hook`/`text`, another's `hook_<network>`/
        `text_<network>`), with the words typed; a post left as it was, or a network left out,
        is not in it."""
        typed: dict[str, tuple[str, str | None]] = {}
        for name in self.config.networks:
            if name in unticked:
                continue
            if name == "x":
                edited, words = edited_text(draft, form)
                current = draft.text
            else:
                edited, words = network_edit(draft, name, form)
                current = str((draft.networks.get(name) or {}).get("text") or draft.text)
            if edited is not None and " ".join(edited.split()) != " ".join(current.split()):
                typed[name] = (edited, words)
        return typed

    @staticmethod
    def _link_of(draft: Draft, network: str) -> str:
        if network == "x":
            return draft.post_link
        return str((draft.networks.get(network) or {}).get("link") or draft.post_link)

    def _open_deliveries(self, draft: Draft) -> None:
        """Each other network's delivery, as the draft is approved (the publisher opens any that
        are missing too, while the draft is still APPROVED: a failure here loses nothing)."""
        from hookline.publish.delivery import open_deliveries

        try:
            open_deliveries(self.store, self.config, draft, self.clock())
        except Exception:
            log.exception(
                "could not open the other networks' deliveries; the publisher will",
                extra={"draft_id": draft.id},
            )

    def _reject_step(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        """Reject pressed where the page's script did not run: the same page, asking why."""
        token, draft, approver, history = self._decider(draft_id, form)
        if draft.state is not State.PENDING:
            raise Conflict(self._conflict_message(draft, "reject"))
        return Page(200, self._render_review(draft, token, approver, audit=history, reject_step=True))

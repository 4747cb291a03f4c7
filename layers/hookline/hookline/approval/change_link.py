"""A new destination for a pending draft, used only once the link pre-flight has opened it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookline.approval.base import Page
from hookline.approval.edits import check_edit
from hookline.approval.forms import first, is_web_link
from hookline.approval.pages import ReviewPages, check_verdict
from hookline.errors import Conflict
from hookline.models import State
from hookline.store import Move, StateConflict


class LinkChange(ReviewPages):
    def _change_link(self, draft_id: str, form: Mapping[str, Any]) -> Page:
        """A new destination for a pending draft: used only once the link pre-flight has opened it."""
        token, draft, approver, history = self._decider(draft_id, form)
        if draft.state is not State.PENDING:
            raise Conflict(self._conflict_message(draft, "change-link"))
        new = (first(form, "link") or "").strip()

        def refused(message: str, status: int = 422) -> Page:
            notice = {"tone": "error", "text": message}
            html = self._render_review(draft, token, approver, audit=history, notice=notice, new_link=new)
            return Page(status, html)

        if new == draft.post_link:
            return refused("That is the link the post has already; nothing was changed.", 200)
        if not is_web_link(new):
            return refused(
                "The new link was not used: it must be a whole web address starting with https:// "
                "(or http://), with no spaces."
            )
        from hookline.compose.entities import link_refusal

        refusal = link_refusal(new)
        if refusal:
            return refused(f"The new link was not used: {refusal}.")
        if self.link_checker is None:
            return refused("Changing the link is not set up for this deployment; nothing was changed.")
        check = self.link_checker(new)
        if not check.ok:
            problems = "; ".join(check.warnings) or "it does not open"
            return refused(f"The new link was not used: {problems}")
        text = draft.text.replace(draft.post_link, new, 1)
        text_after, length = check_edit(self.config, draft.model_copy(update={"post_link": new}), text)
        try:
            after, entry = self.store.write_transition(
                draft,
                Move(
                    State.PENDING,
                    actor=f"{approver.name} <{approver.email}>",
                    action="change link",
                    expect=(State.PENDING,),
                    changes={
                        "post_link": new,
                        "text": text_after,
                        "weighted_length": length,
                        "preflight": check.as_json(),
                    },
                    reason=f"link changed from {draft.post_link} to {new}",
                    text_after=text_after,
                ),
            )
        except StateConflict as exc:
            raise Conflict(self._conflict_message(exc.draft or draft, "change-link")) from None
        verdict = check_verdict(after.preflight)
        notice = {"tone": "ok", "text": f"The link is now {new}. Link check: {verdict['text']}"}
        return Page(200, self._render_review(after, token, approver, audit=[*history, entry], notice=notice))

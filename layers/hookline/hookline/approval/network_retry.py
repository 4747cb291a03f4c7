"""An approver's Retry of one network's FAILED delivery (X's Retry is the draft's own, decisions.py).

It moves only that network's delivery back to APPROVED, conditionally on the state and version
just read, so a second press, or a page older than the delivery, is told so and changes
nothing; the table's stream (DueNow) then starts the publisher, and the 5-minute schedule is
the safety net.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hookline.approval.base import Page
from hookline.approval.deliveries import NAMES
from hookline.approval.forms import reason
from hookline.approval.pages import ReviewPages
from hookline.clock import iso
from hookline.errors import BadRequest, Conflict
from hookline.store import StateConflict

if TYPE_CHECKING:
    from datetime import datetime

    from hookline.config import Approver
    from hookline.models import Draft


class NetworkRetry(ReviewPages):
    def _retry_network(self, draft_id: str, form: Mapping[str, Any], network: str) -> Page:
        """Retry of one network's FAILED delivery, audited with who pressed it."""
        if network == "x" or network not in self.config.networks:
            raise BadRequest(
                f"Nothing changed: there is no {network!r} delivery to retry in this deployment."
            )
        token, draft, approver, history = self._decider(draft_id, form)
        name = NAMES.get(network, network.title())
        delivery = self.store.deliveries_of(draft.id).get(network)
        if delivery is None or delivery.get("delivery_state") != "FAILED" or delivery.get("stopped"):
            raise Conflict(self._not_failed(name, delivery))
        now = self.clock()
        entry = self._retry_entry(draft, approver, network, now, reason(form))
        try:
            after = self.store.move_delivery(
                delivery,
                "APPROVED",
                now=now,
                changes={"retries": 0, "retried_by": approver.name},
                remove=["failure", "not_before"],
                also=[entry],
                read_back=False,
            )
        except StateConflict:
            raise Conflict(self._not_failed(name, self.store.deliveries_of(draft.id).get(network))) from None
        from hookline.models import AuditEntry

        notice = {"tone": "ok", "text": f"Publishing to {name} will be retried: it goes out within minutes."}
        deliveries = {**self.store.deliveries_of(draft.id), network: after}
        html = self._render_review(
            draft,
            token,
            approver,
            audit=[*history, AuditEntry.model_validate(entry)],
            notice=notice,
            deliveries=deliveries,
        )
        return Page(200, html)

    @staticmethod
    def _not_failed(name: str, delivery: Mapping[str, Any] | None) -> str:
        state = str((delivery or {}).get("delivery_state") or "")
        if state == "FAILED":  # stopped: withdrawn or expired
            return f"The post to {name} was stopped ({(delivery or {}).get('failure')}), so it cannot be retried."
        now = {"APPROVED": "waiting to go out", "PUBLISHING": "being published", "PUBLISHED": "published"}
        return f"The post to {name} is {now.get(state, 'not failed')} now, so it cannot be retried."

    @staticmethod
    def _retry_entry(
        draft: Draft, approver: Approver, network: str, now: datetime, why: str | None
    ) -> dict[str, Any]:
        # One more entry in the draft's history; its key carries the network, so it cannot meet
        # the entry of a decision written at the same instant.
        return {
            "pk": f"DRAFT#{draft.id}",
            "sk": f"AUDIT#{iso(now)}#{draft.version:06d}#{network}",
            "draft_id": draft.id,
            "at": iso(now),
            "actor": f"{approver.name} <{approver.email}>",
            "action": f"retry {network}",
            "from_state": draft.state.value,
            "to_state": draft.state.value,
            "text_before": None,
            "text_after": None,
            "reason": why,
        }

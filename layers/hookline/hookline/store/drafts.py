"""Drafts: create and read, transitions with their audit entries, notifications, reminders."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hookline.clock import iso, parse_iso
from hookline.models import TRANSITIONS, AuditEntry, Draft, Queued, State

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import DraftNotFound, Move, StateConflict
from hookline.store.table import (
    SAME_STATE_ACTIONS,
    STATE_INDEX,
    TRANSACTION_TRIES,
    TableBase,
    _check_size,
    _too_large,
    capped,
)


class DraftStore(TableBase):
    def _draft_item(self, draft: Draft) -> dict[str, Any]:
        data = draft.model_dump(mode="json", exclude_none=True)
        data.update(pk=f"DRAFT#{draft.id}", sk="DRAFT", state_at=iso(draft.state_at))
        return data

    def _draft_from(self, item: dict[str, Any]) -> Draft:
        data = {k: v for k, v in item.items() if k not in ("pk", "sk", "ttl")}
        return Draft.model_validate(data)

    def create_draft(self, draft: Draft, *, actor: str = "hookline") -> bool:
        """Create the draft once; False when the entry already has one (an overlapping poll)."""
        audit = self._audit_item(draft, actor=actor, action="queued", from_state=None, reason=draft.reason)
        _check_size(capped(self._draft_item(draft)), f"draft {draft.id}")
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._item(self._draft_item(draft)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": self._item(audit)}},
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def get_draft(self, draft_id: str) -> Draft:
        item = self._get(f"DRAFT#{draft_id}", "DRAFT")
        if not item:
            raise DraftNotFound(draft_id)
        return self._draft_from(item)

    def find_draft(self, draft_id: str) -> Draft | None:
        try:
            return self.get_draft(draft_id)
        except DraftNotFound:
            return None

    def drafts_in(self, state: State, limit: int | None = None) -> list[Draft]:
        """Drafts in one state, oldest state change first (the index is eventually consistent)."""
        drafts: list[Draft] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": self._values({":s": state.value}),
        }
        while True:
            resp = self.client.query(**kwargs)
            drafts.extend(self._draft_from(self._read(i)) for i in resp.get("Items", []))
            if limit is not None and len(drafts) >= limit:
                return drafts[:limit]
            if "LastEvaluatedKey" not in resp:
                return drafts
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def decided_like(self, state: State, rule: str, term: str, *, scan: int = 200) -> list[tuple[str, str]]:
        """(id, state_at) of the newest drafts in `state` made by the same rule term: one Query of
        the index, its newest `scan` items, filtered (a projection of three attributes)."""
        resp = self.client.query(
            TableName=self.table,
            IndexName=STATE_INDEX,
            KeyConditionExpression="#s = :s",
            FilterExpression="#r = :r AND #t = :t",
            ProjectionExpression="#id, #sa",
            ExpressionAttributeNames={
                "#s": "state",
                "#r": "rule",
                "#t": "term",
                "#id": "id",
                "#sa": "state_at",
            },
            ExpressionAttributeValues=self._values({":s": state.value, ":r": rule, ":t": term}),
            ScanIndexForward=False,
            Limit=scan,
        )
        return [(str(i["id"]["S"]), str(i["state_at"]["S"])) for i in resp.get("Items", [])]

    def queued(self, state: State) -> list[Queued]:
        """Drafts in one state as the publishing order needs them: a projection of the index."""
        queued: list[Queued] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ProjectionExpression": "#id, #sa, #aa, #ev.#st",
            "ExpressionAttributeNames": {
                "#s": "state",
                "#id": "id",
                "#sa": "state_at",
                "#aa": "approved_at",
                "#ev": "event",
                "#st": "start",
            },
            "ExpressionAttributeValues": self._values({":s": state.value}),
        }
        while True:
            resp = self.client.query(**kwargs)
            for item in resp.get("Items", []):
                data = self._read(item)
                start = (data.get("event") or {}).get("start")
                approved = data.get("approved_at")
                queued.append(
                    Queued(
                        data["id"],
                        parse_iso(data["state_at"]),
                        parse_iso(approved) if approved else None,
                        parse_iso(start) if start else None,
                    )
                )
            if "LastEvaluatedKey" not in resp:
                return queued
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def count_by_state(self) -> dict[State, int]:
        counts = {}
        for state in State:
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": STATE_INDEX,
                "KeyConditionExpression": "#s = :s",
                "ExpressionAttributeNames": {"#s": "state"},
                "ExpressionAttributeValues": self._values({":s": state.value}),
                "Select": "COUNT",
            }
            total = 0
            while True:
                resp = self.client.query(**kwargs)
                total += resp.get("Count", 0)
                if "LastEvaluatedKey" not in resp:
                    break
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            counts[state] = total
        return counts

    def _audit_item(
        self,
        draft: Draft,
        *,
        actor: str,
        action: str,
        from_state: State | None,
        to_state: State | None = None,
        text_before: str | None = None,
        text_after: str | None = None,
        reason: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        return {
            "pk": f"DRAFT#{draft.id}",
            "sk": f"AUDIT#{iso(now)}#{version or draft.version:06d}",
            "draft_id": draft.id,
            "at": iso(now),
            "actor": actor,
            "action": action,
            "from_state": from_state.value if from_state else None,
            "to_state": (to_state or draft.state).value,
            "text_before": text_before,
            "text_after": text_after,
            "reason": reason,
        }

    def transition(self, draft: Draft, move: Move) -> Draft:
        """Move a draft along one edge of the state machine, conditionally, with its audit entry.

        The write succeeds only if the stored draft is still in one of `move.expect` (and, for
        a publishing attempt, still carries the caller's attempt id). Raises StateConflict
        otherwise. Returns the draft as stored afterwards.
        """
        self.write_transition(draft, move)  # returns the caller's copy; read the stored draft back
        return self.get_draft(draft.id)

    def write_transition(self, draft: Draft, move: Move) -> tuple[Draft, AuditEntry]:
        """`transition` without reading the draft back: returns the caller's draft with this
        write applied, and the audit entry written, for a page that shows both at once (the
        approval result page). Other fields changed meanwhile by someone else are not in it;
        `transition` reads the stored draft back."""
        expected = tuple(move.expect) if move.expect is not None else (draft.state,)
        for state in expected:
            if move.to not in TRANSITIONS[state] and not (
                state == move.to and move.action in SAME_STATE_ACTIONS
            ):
                raise ValueError(f"no edge {state} -> {move.to} in the draft state machine")
        fields: dict[str, Any] = {"state": move.to.value, "state_at": iso(self.clock())}
        for name, value in (move.changes or {}).items():
            fields[name] = value.isoformat() if isinstance(value, datetime) else value
        text_before = draft.text if move.text_after is not None and move.text_after != draft.text else None
        audit = self._audit_item(
            draft,
            actor=move.actor,
            action=move.action,
            from_state=draft.state,
            to_state=move.to,
            text_before=text_before,
            text_after=move.text_after if text_before is not None else None,
            reason=move.reason,
            version=draft.version + 1,
        )
        update = self._draft_update(draft, move, fields, expected)
        removed = set(move.remove)
        after = {k: v for k, v in self._draft_item(draft).items() if k not in removed}
        after.update(fields, version=draft.version + 1)
        _check_size(capped(after), f"draft {draft.id}")
        self._commit_transition(
            draft, [update, {"Put": {"TableName": self.table, "Item": self._item(audit)}}], expected
        )
        return self._draft_from(capped(after)), AuditEntry.model_validate(audit)

    def _draft_update(
        self, draft: Draft, move: Move, fields: dict[str, Any], expected: tuple[State, ...]
    ) -> dict[str, Any]:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(fields.values())}
        set_expr = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        expr = f"SET {set_expr}, version = version + :one"
        values[":one"] = 1
        remove = tuple(move.remove)
        removals = [f"#r{i}" for i, _ in enumerate(remove)]
        names.update({f"#r{i}": name for i, name in enumerate(remove)})
        if removals:
            expr += " REMOVE " + ", ".join(removals)
        names["#state"] = "state"
        conds = [" OR ".join(f"#state = :e{i}" for i in range(len(expected)))]
        values.update({f":e{i}": s.value for i, s in enumerate(expected)})
        if move.expect_attempt is not None:
            names["#attempt"] = "attempt"
            conds.append("#attempt.id = :attempt")
            values[":attempt"] = move.expect_attempt
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(f"DRAFT#{draft.id}", "DRAFT"),
                "UpdateExpression": expr,
                "ConditionExpression": " AND ".join(f"({c})" for c in conds),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": self._values(values),
            }
        }

    def _commit_transition(self, draft: Draft, items: list[Any], expected: tuple[State, ...]) -> None:
        for attempt in range(TRANSACTION_TRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise StateConflict(self._stored(draft.id), expected) from None
                if "ValidationError" in reasons:
                    raise _too_large(exc, f"draft {draft.id}") from None
                # DynamoDB cancels a transaction that meets another one on the same item
                # (TransactionConflict); the other may be a racing decision, so look again.
                if "TransactionConflict" not in reasons or attempt == TRANSACTION_TRIES - 1:
                    raise
                current = self._stored(draft.id)
                if current is None or current.state not in expected:
                    raise StateConflict(current, expected) from None
                time.sleep(0.05 * (attempt + 1))
            except self.client.exceptions.ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ValidationException":
                    raise _too_large(exc, f"draft {draft.id}") from None
                raise

    def audit(self, draft_id: str) -> list[AuditEntry]:
        resp = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :a)",
            ExpressionAttributeValues=self._values({":pk": f"DRAFT#{draft_id}", ":a": "AUDIT#"}),
        )
        return [AuditEntry.model_validate(self._read(i)) for i in resp.get("Items", [])]

    def _stored(self, draft_id: str) -> Draft | None:
        """The draft as stored now, after a write lost to another: read with a Query, like every
        read the approvals function makes, so its policy needs no GetItem."""
        return self.draft_and_audit(draft_id)[0]

    def draft_and_audit(self, draft_id: str) -> tuple[Draft | None, list[AuditEntry]]:
        """The draft and its audit trail in one consistent Query of the draft's partition.

        "AUDIT#..." < "DRAFT" < "NOTIFIED#...", so the key range takes the audit entries and the
        draft and leaves the notification markers out.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :draft",
            "ExpressionAttributeValues": self._values(
                {":pk": f"DRAFT#{draft_id}", ":first": "AUDIT#", ":draft": "DRAFT"}
            ),
            "ConsistentRead": True,
        }
        draft: Draft | None = None
        audit: list[AuditEntry] = []
        while True:
            resp = self.client.query(**kwargs)
            for raw in resp.get("Items", []):
                item = self._read(raw)
                if item["sk"] == "DRAFT":
                    draft = self._draft_from(item)
                else:
                    audit.append(AuditEntry.model_validate(item))
            if "LastEvaluatedKey" not in resp:
                return draft, audit
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def was_notified(self, draft_id: str, channel: str) -> bool:
        return self._get(f"DRAFT#{draft_id}", f"NOTIFIED#{channel}") is not None

    def mark_notified(self, draft_id: str, channel: str, *, now: datetime) -> None:
        self.client.put_item(
            TableName=self.table,
            Item=self._item({"pk": f"DRAFT#{draft_id}", "sk": f"NOTIFIED#{channel}", "at": iso(now)}),
        )

    def claim_reminder(self, draft_id: str, now: datetime) -> bool:
        """Mark a pending draft as reminded, once: False if it was already, or is no longer pending."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(f"DRAFT#{draft_id}", "DRAFT"),
                UpdateExpression="SET reminded_at = :now",
                ConditionExpression="#state = :pending AND attribute_not_exists(reminded_at)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=self._values({":now": iso(now), ":pending": State.PENDING.value}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_reminder(self, draft_id: str, claimed_at: datetime) -> None:
        """Undo a claim whose reminder could not be sent, so the next run tries again."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key=self._key(f"DRAFT#{draft_id}", "DRAFT"),
                UpdateExpression="REMOVE reminded_at",
                ConditionExpression="reminded_at = :at",
                ExpressionAttributeValues=self._values({":at": iso(claimed_at)}),
            )

"""Deliveries: one per (draft, network) under the draft's decision, moved conditionally, with a lease."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hookline.clock import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import StateConflict, StoreError
from hookline.store.table import TableBase


class DeliveryStore(TableBase):
    def create_delivery(self, draft_id: str, network: str, data: dict[str, Any], *, now: datetime) -> bool:
        """The delivery APPROVED, once (False when it exists: an overlapping run made it)."""
        item = {"pk": f"DRAFT#{draft_id}", "sk": f"NETWORK#{network}", **data}
        item.update(
            network=network, draft_id=draft_id, delivery_state="APPROVED", state_at=iso(now), version=1
        )
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._item(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": self._item(self._open(draft_id, network, now)),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    @staticmethod
    def _open(draft_id: str, network: str, now: datetime) -> dict[str, Any]:
        return {"pk": "DELIVERIES", "sk": f"{network}#{draft_id}", "at": iso(now)}

    def delivery(self, draft_id: str, network: str) -> dict[str, Any] | None:
        return self._get(f"DRAFT#{draft_id}", f"NETWORK#{network}")

    def deliveries_of(self, draft_id: str) -> dict[str, dict[str, Any]]:
        resp = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :n)",
            ExpressionAttributeValues=self._values({":pk": f"DRAFT#{draft_id}", ":n": "NETWORK#"}),
            ConsistentRead=True,
        )
        items = [self._read(i) for i in resp.get("Items", [])]
        return {str(i["network"]): i for i in items}

    def open_deliveries(self, network: str) -> list[str]:
        """Draft ids with an open delivery to `network`, oldest first."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :n)",
            "ExpressionAttributeValues": self._values({":pk": "DELIVERIES", ":n": f"{network}#"}),
            "ConsistentRead": True,
        }
        while True:
            resp = self.client.query(**kwargs)
            ids.extend(self._read(i)["sk"].split("#", 1)[1] for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                return ids
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def move_delivery(
        self,
        delivery: dict[str, Any],
        to: str,
        *,
        now: datetime,
        changes: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        expect_attempt: str | None = None,
        also: Iterable[dict[str, Any]] = (),
        read_back: bool = True,
    ) -> dict[str, Any]:
        """One edge of a delivery's state machine, conditional on the state (and version, and for
        an attempt's outcome its attempt id) the caller read; StateConflict otherwise. Leaving
        APPROVED/PUBLISHING for PUBLISHED or FAILED closes it (the DELIVERIES entry goes).

        `also`: items put in the same write (an approver's retry puts its audit entry). Without
        `read_back` the delivery is returned as written, not read again (the approvals function
        reads by Query and BatchGetItem only)."""
        draft_id, network = str(delivery["draft_id"]), str(delivery["network"])
        sets = {
            "delivery_state": to,
            "state_at": iso(now),
            "version": int(delivery["version"]) + 1,
            **(changes or {}),
        }
        names = {f"#f{i}": k for i, k in enumerate(sets)}
        values = {f":v{i}": v for i, v in enumerate(sets.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(sets)))
        dropped = [k for k in remove if k not in sets]
        if dropped:
            names.update({f"#r{i}": k for i, k in enumerate(dropped)})
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(dropped)))
        condition = "#ds = :expected AND #ver = :version"
        names.update({"#ds": "delivery_state", "#ver": "version"})
        values.update({":expected": delivery["delivery_state"], ":version": int(delivery["version"])})
        if expect_attempt:
            condition += " AND #att.#aid = :attempt"
            names.update({"#att": "attempt", "#aid": "id"})
            values[":attempt"] = expect_attempt
        update = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(f"DRAFT#{draft_id}", f"NETWORK#{network}"),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": self._values(values),
            }
        }
        index_key = self._key("DELIVERIES", f"{network}#{draft_id}")
        items: list[Any] = [
            update,
            *({"Put": {"TableName": self.table, "Item": self._item(i)}} for i in also),
        ]
        if to in ("PUBLISHED", "FAILED"):
            items.append({"Delete": {"TableName": self.table, "Key": index_key}})
        elif delivery["delivery_state"] in ("PUBLISHED", "FAILED"):
            items.append(
                {"Put": {"TableName": self.table, "Item": self._item(self._open(draft_id, network, now))}}
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise StateConflict(None, []) from None
            raise
        if not read_back:
            return {k: v for k, v in {**delivery, **sets}.items() if k not in dropped}
        stored = self.delivery(draft_id, network)
        if stored is None:  # pragma: no cover - the update above just wrote it
            raise StoreError(f"the {network} delivery of {draft_id} vanished")
        return stored

"""Controls: pause, holds and limits (the CONTROL partition)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hookline.clock import iso, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import Controls, Hold, MonthSpend, Pause
from hookline.store.table import TableBase


class ControlStore(TableBase):
    def pause_state(self) -> Pause:
        return self._pause_from(self._get("CONTROL", "PAUSE"))

    @staticmethod
    def _pause_from(item: dict[str, Any] | None) -> Pause:
        if not item:
            return Pause(paused=False)
        return Pause(
            paused=bool(item.get("paused")),
            reason=item.get("reason"),
            by=item.get("by"),
            at=parse_iso(item["at"]) if item.get("at") else None,
        )

    def controls(self, month: str, days: Iterable[str] = ()) -> Controls:
        """The pause switch, the account hold, the last post, the month's spend and the posts of
        `days`, in one consistent BatchGetItem instead of a GetItem each."""
        days = list(dict.fromkeys(days))
        items = {
            (i["pk"], i["sk"]): i for i in self._batch_get(self._control_keys(month, days), keys_only=False)
        }
        return self._controls_from(items, month, days)

    @staticmethod
    def _control_keys(month: str, days: Sequence[str]) -> list[tuple[str, str]]:
        keys = [
            ("CONTROL", "PAUSE"),
            ("CONTROL", "HOLD"),
            ("CONTROL", "LAST_POST"),
            ("CONTROL", "ACCOUNT"),
            (f"PACE#{month}", "MONTH"),
        ]
        return keys + [(f"PACE#{day}", "DAY") for day in days]

    def _controls_from(
        self, items: dict[tuple[str, str], dict[str, Any]], month: str, days: Sequence[str]
    ) -> Controls:
        last = items.get(("CONTROL", "LAST_POST"))
        spend = items.get((f"PACE#{month}", "MONTH")) or {}
        return Controls(
            pause=self._pause_from(items.get(("CONTROL", "PAUSE"))),
            hold=items.get(("CONTROL", "HOLD")),
            last_post_at=parse_iso(last["at"]) if last and last.get("at") else None,
            month=MonthSpend(month=month, cents=int(spend.get("cents", 0)), posts=int(spend.get("posts", 0))),
            day_posts={d: int((items.get((f"PACE#{d}", "DAY")) or {}).get("posts", 0)) for d in days},
            account=items.get(("CONTROL", "ACCOUNT")),
        )

    def network_holds(self, networks: Iterable[str]) -> dict[str, dict[str, Any]]:
        """CONTROL/HOLD#<network> of each network that has one (a wrong account or refused
        credentials hold that network alone), in one BatchGetItem."""
        keys = [("CONTROL", f"HOLD#{n}") for n in networks]
        if not keys:
            return {}
        return {str(i["sk"]).removeprefix("HOLD#"): i for i in self._batch_get(keys, keys_only=False)}

    def set_pause(self, paused: bool, *, by: str, reason: str | None, now: datetime) -> Pause:
        self.client.put_item(
            TableName=self.table,
            Item=self._item(
                {"pk": "CONTROL", "sk": "PAUSE", "paused": paused, "by": by, "reason": reason, "at": iso(now)}
            ),
        )
        self.client.put_item(
            TableName=self.table,
            Item=self._item(
                {
                    "pk": "CONTROL",
                    "sk": f"PAUSELOG#{iso(now)}",
                    "paused": paused,
                    "by": by,
                    "reason": reason,
                    "at": iso(now),
                }
            ),
        )
        return Pause(paused=paused, reason=reason, by=by, at=now)

    def get_control(self, name: str) -> dict[str, Any] | None:
        return self._get("CONTROL", name)

    def put_control(self, name: str, data: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.table, Item=self._item({"pk": "CONTROL", "sk": name, **data}))

    def delete_control(self, name: str) -> None:
        self.client.delete_item(TableName=self.table, Key=self._key("CONTROL", name))

    def _hold(self, sk: str) -> Hold | None:
        item = self.get_control(sk)
        if not item:
            return None
        return Hold(
            kind=str(item.get("kind") or "account"),
            reason=str(item.get("reason") or "publishing is held"),
            at=parse_iso(item["at"]) if item.get("at") else self.clock(),
            until=parse_iso(item["until"]) if item.get("until") else None,
        )

    def hold_state(self) -> Hold | None:
        """The account hold (CONTROL/HOLD): the credentials are not the corporate account's, or
        cannot be used. The review page shows its reason."""
        return self._hold("HOLD")

    def set_hold(self, kind: str, reason: str, *, now: datetime) -> None:
        self.put_control("HOLD", {"kind": kind, "reason": reason[:1000], "at": iso(now)})

    def clear_hold(self, kinds: Iterable[str]) -> bool:
        """Lift the account hold if it is of one of `kinds`; False when there was none."""
        values: dict[str, Any] = {f":k{i}": k for i, k in enumerate(kinds)}
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key("CONTROL", "HOLD"),
                ConditionExpression=f"#kind IN ({', '.join(values)})",
                ExpressionAttributeNames={"#kind": "kind"},
                ExpressionAttributeValues=self._values(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def limit_state(self) -> Hold | None:
        """X's own limit (CONTROL/LIMIT): a rate limit or a spent usage cap, `until` a time."""
        return self._hold("LIMIT")

    def set_limit(self, kind: str, reason: str, *, now: datetime, until: datetime) -> None:
        self.put_control(
            "LIMIT", {"kind": kind, "reason": reason[:1000], "at": iso(now), "until": iso(until)}
        )

    def clear_limit(self, *, before: datetime) -> bool:
        """Remove a limit that has run out by `before` (never one set again meanwhile)."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=self._key("CONTROL", "LIMIT"),
                ConditionExpression="#until <= :before",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues=self._values({":before": iso(before)}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

"""Pacing: post reservations against the daily cap and the month's spend."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import MonthSpend, PaceRefused
from hookline.store.table import PACE_CONFLICT_TRIES, TableBase

X = "x"


def day_key(day: str, network: str = X) -> tuple[str, str]:
    """A network's posts on a day; X keeps the key it had before there were other networks."""
    return (f"PACE#{day}", "DAY" if network == X else f"DAY#{network}")


def last_post_key(network: str = X) -> tuple[str, str]:
    """A network's last post (its spacing); X keeps its old key too."""
    return ("CONTROL", "LAST_POST" if network == X else f"LAST_POST#{network}")


class PacingStore(TableBase):
    """Pacing is each network's own: its daily count and its last post. The month's spend is
    X's alone (it bills a post with a link; the others cost nothing)."""

    def month_spend(self, month: str) -> MonthSpend:
        item = self._get(f"PACE#{month}", "MONTH") or {}
        return MonthSpend(month=month, cents=int(item.get("cents", 0)), posts=int(item.get("posts", 0)))

    def posts_on(self, day: str, network: str = X) -> int:
        item = self._get(*day_key(day, network)) or {}
        return int(item.get("posts", 0))

    def last_post_at(self, network: str = X) -> datetime | None:
        item = self._get(*last_post_key(network))
        return parse_iso(item["at"]) if item and item.get("at") else None

    def _transact_paced(self, items: list[Any]) -> None:
        """transact_write_items, retried while DynamoDB cancels it for a concurrent transaction
        on the same counters (TransactionConflict: nothing was checked, nothing was written)."""
        import random
        import time

        for attempt in range(PACE_CONFLICT_TRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "TransactionConflict" not in reasons or "ConditionalCheckFailed" in reasons:
                    raise
                if attempt == PACE_CONFLICT_TRIES - 1:
                    raise
                time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # noqa: S311 - jitter, not crypto

    def reserve_post(
        self,
        *,
        now: datetime,
        month: str,
        day: str,
        cents: int,
        month_cap_cents: int,
        daily_cap: int,
        spacing: timedelta,
    ) -> None:
        """Reserve X's spend, daily slot and spacing in one transaction, or raise PaceRefused.

        Two publishers racing for the last cent or slot cannot both win: each condition is
        checked by DynamoDB at write time.
        """
        spent = self.month_spend(month)
        if cents > month_cap_cents - spent.cents:
            raise PaceRefused(
                f"monthly spend cap reached (${spent.cents / 100:.2f} of ${month_cap_cents / 100:.2f} spent)"
            )
        spend = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(f"PACE#{month}", "MONTH"),
                "UpdateExpression": "ADD cents :c, posts :one",
                "ConditionExpression": "attribute_not_exists(cents) OR cents <= :room",
                "ExpressionAttributeValues": self._values(
                    {":c": cents, ":one": 1, ":room": month_cap_cents - cents}
                ),
            }
        }
        self._reserve(
            X,
            now,
            day,
            daily_cap,
            spacing,
            spend,
            f"monthly spend cap reached (${month_cap_cents / 100:.2f})",
        )

    def reserve_slot(
        self, *, network: str, now: datetime, day: str, daily_cap: int, spacing: timedelta
    ) -> None:
        """Reserve a network's daily slot and spacing (no spend: only X bills), or raise PaceRefused."""
        self._reserve(network, now, day, daily_cap, spacing)

    def _reserve(
        self,
        network: str,
        now: datetime,
        day: str,
        daily_cap: int,
        spacing: timedelta,
        spend: dict[str, Any] | None = None,
        spend_refused: str = "",
    ) -> None:
        if daily_cap <= 0:
            raise PaceRefused("daily cap reached (the daily cap is 0)")
        items = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(*day_key(day, network)),
                    "UpdateExpression": "ADD posts :one",
                    "ConditionExpression": "attribute_not_exists(posts) OR posts < :cap",
                    "ExpressionAttributeValues": self._values({":one": 1, ":cap": daily_cap}),
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(*last_post_key(network)),
                    "UpdateExpression": "SET previous = if_not_exists(#at, :never), #at = :now",
                    "ConditionExpression": "attribute_not_exists(#at) OR #at <= :earliest",
                    "ExpressionAttributeNames": {"#at": "at"},
                    "ExpressionAttributeValues": self._values(
                        {":now": iso(now), ":earliest": iso(now - spacing), ":never": ""}
                    ),
                }
            },
        ]
        refusals = [
            f"daily cap reached ({daily_cap} posts)",
            f"too soon after the last post (spacing {int(spacing.total_seconds() // 60)} minutes)",
        ]
        if spend is not None:
            items, refusals = [spend, *items], [spend_refused, *refusals]
        try:
            self._transact_paced(items)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise PaceRefused("another publisher is reserving a slot; the next run tries again") from None
            raise PaceRefused(refusals[reasons.index("ConditionalCheckFailed")]) from None

    def release_post(self, *, month: str, day: str, cents: int, now: datetime) -> None:
        """Give back a reservation X refused, so a refused post costs nothing against the caps."""
        spend = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(f"PACE#{month}", "MONTH"),
                "UpdateExpression": "ADD cents :c, posts :minus",
                "ExpressionAttributeValues": self._values({":c": -cents, ":minus": -1}),
            }
        }
        self._release(X, day, now, spend)

    def release_slot(self, *, network: str, day: str, now: datetime) -> None:
        """Give back a network's slot it did not use (refused, not sent, another run's claim)."""
        self._release(network, day, now)

    def _release(self, network: str, day: str, now: datetime, spend: dict[str, Any] | None = None) -> None:
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(*day_key(day, network)),
                    "UpdateExpression": "ADD posts :minus",
                    "ExpressionAttributeValues": self._values({":minus": -1}),
                }
            },
        ]
        self._transact_paced([spend, *items] if spend is not None else items)
        # Hand the spacing back too, but only if nobody has reserved a slot since.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key=self._key(*last_post_key(network)),
                UpdateExpression="SET #at = previous",
                ConditionExpression="#at = :now AND attribute_exists(previous)",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues=self._values({":now": iso(now)}),
            )

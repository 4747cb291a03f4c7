"""The table's plumbing: the client, (de)serialisation, batches, scans."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hookline.clock import Clock, utc_now

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import ItemTooLarge

STATE_INDEX = "ByState"
# The ByState partition of skip records (not a draft state: no draft is ever in it).
SKIPPED = "SKIPPED"
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACTION_TRIES = 4
# Changes that leave a draft in its state (a PENDING draft whose link an approver changed).
SAME_STATE_ACTIONS = ("edit", "change link")
PACE_CONFLICT_TRIES = 5
# Feeds per NOT_MODIFIED update: keeps the update expression well under DynamoDB's 4 KB.
NOT_MODIFIED_CHUNK = 150
# DynamoDB refuses an item over 400 KB. Every string written is capped, and a draft is
# measured before it is written against a budget well under the limit, so a hostile page
# or feed cannot make a draft that can no longer be updated.
MAX_STRING = 8000
ITEM_LIMIT = 400 * 1024
ITEM_BUDGET = 300 * 1024


def capped(value: Any, limit: int | None = None) -> Any:
    """`value` with every string in it (at any depth) at most `limit` (MAX_STRING) characters."""
    limit = MAX_STRING if limit is None else limit
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, dict):
        return {k: capped(v, limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [capped(v, limit) for v in value]
    return value


def _check_size(item: dict[str, Any], what: str) -> None:
    size = item_size(item)
    if size <= ITEM_BUDGET:
        return
    largest = max(item, key=lambda k: item_size({k: item[k]}))
    raise ItemTooLarge(
        f"{what} would take {size // 1024} KB, more than the {ITEM_BUDGET // 1024} KB a draft may "
        f"(DynamoDB's limit is {ITEM_LIMIT // 1024} KB); the largest part is {largest!r} "
        f"({item_size({largest: item[largest]}) // 1024} KB)"
    )


def _too_large(exc: Exception, what: str) -> ItemTooLarge:
    detail = str(exc)[:300]
    return ItemTooLarge(f"DynamoDB refused to save {what}: {detail}")


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it, near enough: names and values in UTF-8 bytes."""

    def size(node: Any) -> int:
        if isinstance(node, dict):
            return sum(len(str(k).encode()) + size(v) for k, v in node.items()) + 3
        if isinstance(node, (list, tuple, set)):
            return sum(size(v) + 1 for v in node) + 3
        if isinstance(node, str):
            return len(node.encode("utf-8", "replace"))
        return 21  # numbers, booleans and null: at most this

    return size(item)


def _plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; the domain speaks int."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def normalise_link(link: str) -> str:
    """A link as a CMS may rewrite it: scheme, host case, trailing slash and tracking tags don't count."""
    from urllib.parse import parse_qsl, urlencode, urlsplit

    parts = urlsplit(link.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_") and k.lower() not in {"fbclid", "gclid", "mc_cid", "mc_eid"}
    ]
    path = parts.path.rstrip("/") or "/"
    return f"{host}{path}" + (f"?{urlencode(sorted(query))}" if query else "")


def dynamodb_client(endpoint_url: str | None = None, *, connections: int = 64) -> DynamoDBClient:
    """A DynamoDB client for threaded use: a connection pool as large as a poll's concurrency
    (botocore keeps 10, and a poll's threads would queue for them). Timeouts and retries
    stay botocore's: a conditional write retried after a short read timeout could be told
    its own earlier success was someone else's. Client-side parameter validation is off:
    DynamoDB validates every request itself (a bad one still fails, as ValidationException),
    and botocore's walk over each request's shape was a seventh of a poll's CPU (make bench)."""
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url or None,
        config=BotoConfig(max_pool_connections=connections, parameter_validation=False),
    )


class TableBase:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        clock: Clock = utc_now,
    ) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        if client is None:
            client = dynamodb_client(os.environ.get("HOOKLINE_DYNAMODB_ENDPOINT"))
        self.table = table_name
        self.client = client
        self.clock = clock
        self._ser = TypeSerializer()
        self._de = TypeDeserializer()

    def _item(self, data: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(capped(v)) for k, v in data.items() if v is not None}

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _read(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: _plain(self._de.deserialize(v)) for k, v in item.items()}

    def _get(self, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
        resp = self.client.get_item(TableName=self.table, Key=self._key(pk, sk), ConsistentRead=consistent)
        item = resp.get("Item")
        return self._read(item) if item else None

    def _values(self, values: dict[str, Any]) -> dict[str, Any]:
        return {k: self._ser.serialize(capped(v)) for k, v in values.items()}

    def _batch_get(
        self, keys: Sequence[tuple[str, str]], *, keys_only: bool = True, consistent: bool = True
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                "Keys": [self._key(pk, sk) for pk, sk in keys[start : start + BATCH_GET_LIMIT]],
                "ConsistentRead": consistent,
            }
            if keys_only:
                request["ProjectionExpression"] = "pk, sk"
            pending: dict[str, Any] = {self.table: request}
            while pending:
                resp = self.client.batch_get_item(RequestItems=pending)
                found.extend(self._read(i) for i in resp.get("Responses", {}).get(self.table, []))
                pending = resp.get("UnprocessedKeys") or {}
        return found

    def _batch_put(self, items: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            pending: dict[str, Any] = {
                self.table: [
                    {"PutRequest": {"Item": self._item(i)}} for i in items[start : start + BATCH_WRITE_LIMIT]
                ]
            }
            while pending:
                resp = self.client.batch_write_item(RequestItems=pending)
                pending = resp.get("UnprocessedItems") or {}

    NOT_MODIFIED_KEY = ("FEEDS", "NOT_MODIFIED")

    def _scan_prefix(self, pk_prefix: str, sk: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "begins_with(pk, :p) AND sk = :sk",
            "ExpressionAttributeValues": self._values({":p": pk_prefix, ":sk": sk}),
        }
        while True:
            resp = self.client.scan(**kwargs)
            for item in resp.get("Items", []):
                yield self._read(item)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

"""The only code that talks to DynamoDB.

One table holds everything (see template.yaml for its key schema):

  pk                    sk                     what
  FEED#<feed>           STATE                  poll record: validators, streaks, counts
  FEEDS                 NOT_MODIFIED           poll records of feeds that answered 304 and were
                                               healthy: one attribute (time) per feed, batched
  FEED#<feed>           SEEN#<identity hash>   the entry was handled (drafted or skipped)
  FEED#<feed>           SKIP#<entry key>       why an entry was skipped, with the entry (expires by TTL;
                                               `state` SKIPPED lists it in the ByState index)
  LINK#<link hash>      LINK                   a normalised link was handled (any feed)
  DRAFT#<id>            DRAFT                  the draft; `state`/`state_at` feed the ByState index
  DRAFT#<id>            AUDIT#<time>#<version> one transition: who, when, what changed
  DRAFT#<id>            NOTIFIED#<channel>     a notification went out (idempotent per approver)
  DRAFT#<id>            NETWORK#<network>      the draft's delivery to one network (Bluesky, Mastodon):
                                               its own state, attempt lease and outcome
  DELIVERIES            <network>#<draft id>   an open delivery (APPROVED or PUBLISHING), to list them
  CONTROL               PAUSE | ACCOUNT | LAST_POST | HOLD | LIMIT
  PACE#<yyyy-mm>        MONTH                  spend reserved this month (cents), posts
  PACE#<yyyy-mm-dd>     DAY                    posts reserved today

Every state change is a conditional write: a draft moves only from the state
the caller saw, and its audit entry is written in the same transaction.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from hookline.clock import Clock, iso, parse_iso, utc_now
from hookline.models import TRANSITIONS, AuditEntry, Draft, Entry, Judgement, Queued, State, short_hash

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

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


class StoreError(Exception):
    """DynamoDB refused or failed a request in a way the caller should report."""


class ItemTooLarge(StoreError):
    """A write would make an item larger than DynamoDB takes; the message says which and how big."""


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


class StateConflict(Exception):
    """The draft was not in the state the caller expected: someone else acted first."""

    def __init__(self, draft: Draft | None, wanted: Iterable[State]) -> None:
        self.draft = draft
        self.wanted = tuple(wanted)
        current = draft.state if draft else "missing"
        super().__init__(f"draft is {current}, not {' or '.join(s.value for s in self.wanted)}")


class DraftNotFound(Exception):
    pass


class SkipConflict(Exception):
    """Someone already asked for this skipped entry to be drafted (or its record is gone)."""

    def __init__(self, record: dict[str, Any] | None) -> None:
        self.record = record
        super().__init__("already requested" if record else "no such skip")


class PaceRefused(Exception):
    """A post would break the daily cap, the monthly spend cap or the spacing."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class FeedState:
    feed_id: str
    url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_poll: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failure_streak: int = 0
    drafts_made: int = 0
    held: str | None = None
    problem: str | None = None  # what was wrong with the last document read (malformed XML...)

    @property
    def healthy(self) -> bool:
        """Nothing in the record that a 304 would change but the times."""
        return not self.failure_streak and not self.last_error


@dataclass(frozen=True)
class Pause:
    paused: bool
    reason: str | None = None
    by: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class MonthSpend:
    month: str
    cents: int
    posts: int


@dataclass(frozen=True)
class Controls:
    """What a page shows about publishing, read in one BatchGetItem (`Store.controls`)."""

    pause: Pause
    hold: dict[str, Any] | None  # CONTROL/HOLD as stored (its `reason` is shown)
    last_post_at: datetime | None
    month: MonthSpend
    day_posts: dict[str, int]  # posts reserved on each day asked for
    # CONTROL/ACCOUNT: the publisher's last check of whose account the credentials are
    # (`ok`, `username`, `user_id`, `checked_at`), or None before the first check.
    account: dict[str, Any] | None = None

    def posts_on(self, day: str) -> int | None:
        """Posts reserved on `day`, or None when that day was not read."""
        return self.day_posts.get(day)


@dataclass(frozen=True)
class Hold:
    """Publishing stopped by the publisher itself (not the pause switch), and why.

    CONTROL/HOLD: `kind` "account" or "credentials", until the account check passes again
    (the review page shows its `reason`). CONTROL/LIMIT: "usage-cap" or "rate-limit",
    `until` a time.
    """

    kind: str
    reason: str
    at: datetime
    until: datetime | None = None


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


class Store:
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

    # -- low level -------------------------------------------------------------------------

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

    def _batch_get(self, keys: Sequence[tuple[str, str]], *, keys_only: bool = True) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                "Keys": [self._key(pk, sk) for pk, sk in keys[start : start + BATCH_GET_LIMIT]],
                "ConsistentRead": True,
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

    # -- feeds -----------------------------------------------------------------------------

    NOT_MODIFIED_KEY = ("FEEDS", "NOT_MODIFIED")

    def _feed_state_from(self, feed_id: str, item: dict[str, Any], unchanged_at: str | None) -> FeedState:
        last_poll = parse_iso(item["last_poll"]) if item.get("last_poll") else None
        last_success = parse_iso(item["last_success"]) if item.get("last_success") else None
        if unchanged_at:
            # A later 304 of a healthy feed is recorded in the shared NOT_MODIFIED item.
            when = parse_iso(unchanged_at)
            last_poll = max(last_poll, when) if last_poll else when
            last_success = max(last_success, when) if last_success else when
        return FeedState(
            feed_id=feed_id,
            url=item.get("url"),
            etag=item.get("etag"),
            last_modified=item.get("last_modified"),
            last_poll=last_poll,
            last_success=last_success,
            last_error=item.get("last_error"),
            failure_streak=int(item.get("failure_streak", 0)),
            drafts_made=int(item.get("drafts_made", 0)),
            held=item.get("held") or None,
            problem=item.get("problem") or None,
        )

    @staticmethod
    def _unchanged_attr(feed_id: str) -> str:
        return f"nm#{feed_id}"

    def feed_states_for(self, feed_ids: Sequence[str]) -> dict[str, FeedState]:
        """Poll records of these feeds (absent: never polled), in one batched read."""
        keys = [(f"FEED#{f}", "STATE") for f in dict.fromkeys(feed_ids)]
        items = self._batch_get([*keys, self.NOT_MODIFIED_KEY], keys_only=False)
        unchanged: dict[str, Any] = {}
        states: dict[str, FeedState] = {}
        for item in items:
            if (item["pk"], item["sk"]) == self.NOT_MODIFIED_KEY:
                unchanged = item
        for item in items:
            if item["sk"] == "STATE":
                feed_id = item["pk"].removeprefix("FEED#")
                states[feed_id] = self._feed_state_from(
                    feed_id, item, unchanged.get(self._unchanged_attr(feed_id))
                )
        return states

    def feed_state(self, feed_id: str) -> FeedState | None:
        return self.feed_states_for([feed_id]).get(feed_id)

    def feed_states(self) -> list[FeedState]:
        """Every feed's poll record in the table, including feeds no longer configured."""
        ids = [item["pk"].removeprefix("FEED#") for item in self._scan_prefix("FEED#", "STATE")]
        states = self.feed_states_for(ids)
        return [states[f] for f in ids if f in states]

    def record_poll(
        self,
        feed_id: str,
        *,
        url: str,
        ok: bool,
        now: datetime,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
        drafts_made: int = 0,
        held: str | None = None,
        problem: str | None = None,
        keep_held: bool = False,
        forget_validators: bool = False,
    ) -> FeedState:
        """The feed's poll record: one write per feed per poll (a healthy 304 uses
        record_not_modified instead). `problem` replaces the stored one after a document
        was read (None clears it); `keep_held` leaves a hold in place (nothing was read)."""
        sets = ["#url = :url", "last_poll = :now"]
        removes: list[str] = []
        values: dict[str, Any] = {":url": url, ":now": iso(now), ":drafts": drafts_made}
        adds = ["drafts_made :drafts"]
        if ok:
            sets += ["last_success = :now", "failure_streak = :zero"]
            values[":zero"] = 0
            removes.append("last_error")
        else:
            adds.append("failure_streak :one")
            values[":one"] = 1
            sets.append("last_error = :err")
            values[":err"] = (error or "unknown error")[:500]
        if forget_validators:
            # The next poll fetches the whole feed: entries that were not handled are read again.
            removes += ["etag", "last_modified"]
        else:
            if etag is not None:
                sets.append("etag = :etag")
                values[":etag"] = etag[:1000]
            if last_modified is not None:
                sets.append("last_modified = :lm")
                values[":lm"] = last_modified[:200]
        if held:
            sets.append("held = :held")
            values[":held"] = held
        elif ok and not keep_held:
            removes.append("held")
        if problem:
            sets.append("problem = :problem")
            values[":problem"] = problem[:500]
        elif ok and not keep_held:
            removes.append("problem")
        expr = "SET " + ", ".join(sets) + " ADD " + ", ".join(adds)
        if removes:
            expr += " REMOVE " + ", ".join(removes)
        resp = self.client.update_item(
            TableName=self.table,
            Key=self._key(f"FEED#{feed_id}", "STATE"),
            UpdateExpression=expr,
            ExpressionAttributeNames={"#url": "url"},
            ExpressionAttributeValues=self._values(values),
            ReturnValues="ALL_NEW",
        )
        return self._feed_state_from(feed_id, self._read(resp["Attributes"]), None)

    def record_not_modified(self, feed_ids: Sequence[str], *, now: datetime) -> None:
        """Poll records of healthy feeds that answered 304: their time, in one shared item.

        A 304 changes nothing in a healthy feed's record but the poll time, and a poll
        of hundreds of mostly unchanged feeds should not cost hundreds of writes. Each
        feed is its own attribute, so overlapping polls never overwrite each other.
        """
        ids = list(dict.fromkeys(feed_ids))
        for start in range(0, len(ids), NOT_MODIFIED_CHUNK):
            chunk = ids[start : start + NOT_MODIFIED_CHUNK]
            names = {f"#f{i}": self._unchanged_attr(f) for i, f in enumerate(chunk)}
            self.client.update_item(
                TableName=self.table,
                Key=self._key(*self.NOT_MODIFIED_KEY),
                UpdateExpression="SET " + ", ".join(f"{n} = :now" for n in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=self._values({":now": iso(now)}),
            )

    def rebaseline(self, feed_id: str) -> bool:
        """Make the next poll take the feed's current entries as history (after a site
        migration held it). False if the feed has no poll record."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(f"FEED#{feed_id}", "STATE"),
                UpdateExpression="REMOVE #url, etag, last_modified, held",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#url": "url"},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def reset_validators(self, feed_id: str) -> None:
        """Forget ETag/Last-Modified so the next poll fetches the whole feed again."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(f"FEED#{feed_id}", "STATE"),
            UpdateExpression="REMOVE etag, last_modified",
        )

    # -- seen markers ----------------------------------------------------------------------

    @staticmethod
    def _seen_keys(entry: Entry) -> list[tuple[str, str]]:
        identities = dict.fromkeys([entry.identity, *entry.extra.get("identities", ())])
        keys = [(f"FEED#{entry.feed_id}", f"SEEN#{short_hash(identity)}") for identity in identities]
        # A link that other entries of the same document share identifies none of them.
        if entry.link and entry.extra.get("dedupe_link", True):
            keys.append((f"LINK#{short_hash(normalise_link(entry.link))}", "LINK"))
        return keys

    def unseen(self, entries: Sequence[Entry]) -> list[Entry]:
        """Entries neither seen by identity in their feed nor by normalised link anywhere."""
        if not entries:
            return []
        keys = sorted({k for e in entries for k in self._seen_keys(e)})
        seen = {(i["pk"], i["sk"]) for i in self._batch_get(keys)}
        return [e for e in entries if not any(k in seen for k in self._seen_keys(e))]

    def mark_seen(self, entries: Sequence[Entry], *, now: datetime, draft_id: str | None = None) -> None:
        items = []
        for entry in entries:
            for pk, sk in self._seen_keys(entry):
                items.append(
                    {"pk": pk, "sk": sk, "at": iso(now), "feed_id": entry.feed_id, "draft_id": draft_id}
                )
        self._batch_put(items)

    def record_skip(self, entry: Entry, judgement: Judgement, *, now: datetime, keep_days: int) -> None:
        # The record carries the entry (everything compose needs) so a person can still have it
        # drafted from the queue page; `state` SKIPPED puts it in the ByState index, newest
        # first across every feed, for that page's one Query.
        self.client.put_item(
            TableName=self.table,
            Item=self._item(
                {
                    "pk": f"FEED#{entry.feed_id}",
                    "sk": f"SKIP#{entry.key}",
                    "state": SKIPPED,
                    "state_at": iso(now),
                    "feed_id": entry.feed_id,
                    "key": entry.key,
                    "identity": entry.identity[:2000],
                    "title": entry.title[:300],
                    "link": entry.link[:2000],
                    "summary": entry.summary[:2000] or None,
                    "categories": list(entry.categories)[:20] or None,
                    "published": iso(entry.published) if entry.published else None,
                    "event": entry.event.as_json() if entry.event else None,
                    "author": entry.author[:200] or None,
                    "reason": judgement.reason,
                    "rule": judgement.rule,
                    "term": judgement.term,
                    "at": iso(now),
                    "ttl": int((now + timedelta(days=keep_days)).timestamp()),
                }
            ),
        )

    def kept_skips(self, limit: int = 50, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every feed's kept skips, newest first: one Query of the ByState index."""
        cutoff = int((now or self.clock()).timestamp())
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATE_INDEX,
            "KeyConditionExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": self._values({":s": SKIPPED}),
            "ScanIndexForward": False,
        }
        live: list[dict[str, Any]] = []
        while len(live) < limit:
            resp = self.client.query(**kwargs)
            items = (self._read(i) for i in resp.get("Items", []))
            live.extend(i for i in items if int(i.get("ttl", cutoff + 1)) > cutoff)
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return live[:limit]

    def skip_record(self, feed_id: str, key: str) -> dict[str, Any] | None:
        return self._get(f"FEED#{feed_id}", f"SKIP#{key}")

    def request_skip_draft(self, feed_id: str, key: str, *, by: str, now: datetime) -> dict[str, Any]:
        """Record that a person asked for this skip to be drafted: once (SkipConflict after)."""
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=self._key(f"FEED#{feed_id}", f"SKIP#{key}"),
                UpdateExpression="SET requested_by = :by, requested_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(requested_at)",
                ExpressionAttributeValues=self._values({":by": by, ":at": iso(now)}),
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            item: dict[str, Any] | None = exc.response.get("Item")  # type: ignore[assignment]
            raise SkipConflict(self._read(item) if item else None) from None
        return self._read(resp["Attributes"])

    def release_skip_request(self, feed_id: str, key: str) -> None:
        """Forget a request that could not be passed on, so the button works again."""
        self.client.update_item(
            TableName=self.table,
            Key=self._key(f"FEED#{feed_id}", f"SKIP#{key}"),
            UpdateExpression="REMOVE requested_by, requested_at",
            ConditionExpression="attribute_exists(pk)",
        )

    def settle_skip(
        self, feed_id: str, key: str, *, now: datetime, draft_id: str | None = None, error: str | None = None
    ) -> None:
        """What became of a request to draft a skip: the draft made, or why none could be."""
        values = {":at": iso(now), ":d": draft_id, ":e": (error or "")[:500] or None}
        sets = ["settled_at = :at"] + [
            f"{name} = {ref}" for name, ref in (("draft_id", ":d"), ("draft_error", ":e")) if values[ref]
        ]
        self.client.update_item(
            TableName=self.table,
            Key=self._key(f"FEED#{feed_id}", f"SKIP#{key}"),
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=self._values({k: v for k, v in values.items() if v}),
        )

    def skips(self, feed_id: str, limit: int = 50, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """The feed's recorded skips, newest first (expired ones left out before TTL deletes them)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :skip)",
            "ExpressionAttributeValues": self._values({":pk": f"FEED#{feed_id}", ":skip": "SKIP#"}),
        }
        items: list[dict[str, Any]] = []
        while True:
            resp = self.client.query(**kwargs)
            items.extend(self._read(i) for i in resp.get("Items", []))
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        cutoff = int((now or self.clock()).timestamp())
        live = [i for i in items if int(i.get("ttl", cutoff + 1)) > cutoff]
        return sorted(live, key=lambda i: str(i.get("at", "")), reverse=True)[:limit]

    # -- drafts ----------------------------------------------------------------------------

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

    def transition(
        self,
        draft: Draft,
        to: State,
        *,
        actor: str,
        action: str,
        expect: Iterable[State] | None = None,
        changes: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        expect_attempt: str | None = None,
        reason: str | None = None,
        text_after: str | None = None,
    ) -> Draft:
        """Move a draft along one edge of the state machine, conditionally, with its audit entry.

        `expect` defaults to the state of the `draft` the caller holds; the write succeeds
        only if the stored draft is still in one of them (and, for a publishing attempt,
        still carries the caller's attempt id). Raises StateConflict otherwise.
        Returns the draft as stored afterwards.
        """
        self.write_transition(  # what it returns is the caller's copy; read the stored draft back
            draft,
            to,
            actor=actor,
            action=action,
            expect=expect,
            changes=changes,
            remove=remove,
            expect_attempt=expect_attempt,
            reason=reason,
            text_after=text_after,
        )
        return self.get_draft(draft.id)

    def write_transition(
        self,
        draft: Draft,
        to: State,
        *,
        actor: str,
        action: str,
        expect: Iterable[State] | None = None,
        changes: dict[str, Any] | None = None,
        remove: Iterable[str] = (),
        expect_attempt: str | None = None,
        reason: str | None = None,
        text_after: str | None = None,
    ) -> tuple[Draft, AuditEntry]:
        """`transition` without reading the draft back: returns the caller's draft with this
        write applied, and the audit entry written, for a page that shows both at once (the
        approval result page). Other fields changed meanwhile by someone else are not in it;
        `transition` reads the stored draft back."""
        expected = tuple(expect) if expect is not None else (draft.state,)
        for state in expected:
            if to not in TRANSITIONS[state] and not (state == to and action in SAME_STATE_ACTIONS):
                raise ValueError(f"no edge {state} -> {to} in the draft state machine")
        now = self.clock()
        fields: dict[str, Any] = {"state": to.value, "state_at": iso(now)}
        for name, value in (changes or {}).items():
            fields[name] = value.isoformat() if isinstance(value, datetime) else value
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values: dict[str, Any] = {f":f{i}": value for i, value in enumerate(fields.values())}
        set_expr = ", ".join(f"#f{i} = :f{i}" for i in range(len(fields)))
        expr = f"SET {set_expr}, version = version + :one"
        values[":one"] = 1
        removals = [f"#r{i}" for i, _ in enumerate(remove)]
        names.update({f"#r{i}": name for i, name in enumerate(remove)})
        if removals:
            expr += " REMOVE " + ", ".join(removals)
        names["#state"] = "state"
        conds = [" OR ".join(f"#state = :e{i}" for i in range(len(expected)))]
        values.update({f":e{i}": s.value for i, s in enumerate(expected)})
        if expect_attempt is not None:
            names["#attempt"] = "attempt"
            conds.append("#attempt.id = :attempt")
            values[":attempt"] = expect_attempt
        condition = " AND ".join(f"({c})" for c in conds)
        text_before = draft.text if text_after is not None and text_after != draft.text else None
        audit = self._audit_item(
            draft,
            actor=actor,
            action=action,
            from_state=draft.state,
            to_state=to,
            text_before=text_before,
            text_after=text_after if text_before is not None else None,
            reason=reason,
            version=draft.version + 1,
        )
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(f"DRAFT#{draft.id}", "DRAFT"),
                    "UpdateExpression": expr,
                    "ConditionExpression": condition,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": self._values(values),
                }
            },
            {"Put": {"TableName": self.table, "Item": self._item(audit)}},
        ]
        removed = set(remove)
        after = {k: v for k, v in self._draft_item(draft).items() if k not in removed}
        after.update(fields, version=draft.version + 1)
        _check_size(capped(after), f"draft {draft.id}")
        for attempt in range(TRANSACTION_TRIES):
            try:
                self.client.transact_write_items(TransactItems=items)
                break
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
        return self._draft_from(capped(after)), AuditEntry.model_validate(audit)

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

    # -- notifications ---------------------------------------------------------------------

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

    # -- controls --------------------------------------------------------------------------

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
        keys = [
            ("CONTROL", "PAUSE"),
            ("CONTROL", "HOLD"),
            ("CONTROL", "LAST_POST"),
            ("CONTROL", "ACCOUNT"),
            (f"PACE#{month}", "MONTH"),
        ]
        keys += [(f"PACE#{day}", "DAY") for day in days]
        items = {(i["pk"], i["sk"]): i for i in self._batch_get(keys, keys_only=False)}
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

    # -- pacing and spend ------------------------------------------------------------------

    def month_spend(self, month: str) -> MonthSpend:
        item = self._get(f"PACE#{month}", "MONTH") or {}
        return MonthSpend(month=month, cents=int(item.get("cents", 0)), posts=int(item.get("posts", 0)))

    def posts_on(self, day: str) -> int:
        item = self._get(f"PACE#{day}", "DAY") or {}
        return int(item.get("posts", 0))

    def last_post_at(self) -> datetime | None:
        item = self._get("CONTROL", "LAST_POST")
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
        """Reserve spend, a daily slot and the spacing in one transaction, or raise PaceRefused.

        Two publishers racing for the last cent or slot cannot both win: each condition is
        checked by DynamoDB at write time.
        """
        spent = self.month_spend(month)
        if cents > month_cap_cents - spent.cents:
            raise PaceRefused(
                f"monthly spend cap reached (${spent.cents / 100:.2f} of ${month_cap_cents / 100:.2f} spent)"
            )
        if daily_cap <= 0:
            raise PaceRefused("daily cap reached (the daily cap is 0)")
        try:
            self._transact_paced(
                [
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(f"PACE#{month}", "MONTH"),
                            "UpdateExpression": "ADD cents :c, posts :one",
                            "ConditionExpression": "attribute_not_exists(cents) OR cents <= :room",
                            "ExpressionAttributeValues": self._values(
                                {":c": cents, ":one": 1, ":room": month_cap_cents - cents}
                            ),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(f"PACE#{day}", "DAY"),
                            "UpdateExpression": "ADD posts :one",
                            "ConditionExpression": "attribute_not_exists(posts) OR posts < :cap",
                            "ExpressionAttributeValues": self._values({":one": 1, ":cap": daily_cap}),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key("CONTROL", "LAST_POST"),
                            "UpdateExpression": "SET previous = if_not_exists(#at, :never), #at = :now",
                            "ConditionExpression": "attribute_not_exists(#at) OR #at <= :earliest",
                            "ExpressionAttributeNames": {"#at": "at"},
                            "ExpressionAttributeValues": self._values(
                                {":now": iso(now), ":earliest": iso(now - spacing), ":never": ""}
                            ),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" not in reasons:
                raise PaceRefused("another publisher is reserving a slot; the next run tries again") from None
            which = reasons.index("ConditionalCheckFailed")
            raise PaceRefused(
                [
                    f"monthly spend cap reached (${month_cap_cents / 100:.2f})",
                    f"daily cap reached ({daily_cap} posts)",
                    f"too soon after the last post (spacing {int(spacing.total_seconds() // 60)} minutes)",
                ][which]
            ) from None

    def release_post(self, *, month: str, day: str, cents: int, now: datetime) -> None:
        """Give back a reservation X refused, so a refused post costs nothing against the caps."""
        self._transact_paced(
            [
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(f"PACE#{month}", "MONTH"),
                        "UpdateExpression": "ADD cents :c, posts :minus",
                        "ExpressionAttributeValues": self._values({":c": -cents, ":minus": -1}),
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(f"PACE#{day}", "DAY"),
                        "UpdateExpression": "ADD posts :minus",
                        "ExpressionAttributeValues": self._values({":minus": -1}),
                    }
                },
            ]
        )
        # Hand the spacing back too, but only if nobody has reserved a slot since.
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key=self._key("CONTROL", "LAST_POST"),
                UpdateExpression="SET #at = previous",
                ConditionExpression="#at = :now AND attribute_exists(previous)",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues=self._values({":now": iso(now)}),
            )

    # -- scans (status views only; never on a hot path) --------------------------------------

    # -- deliveries: one per (draft, network), under the draft's decision -----------------

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
    ) -> dict[str, Any]:
        """One edge of a delivery's state machine, conditional on the state (and version, and for
        an attempt's outcome its attempt id) the caller read; StateConflict otherwise. Leaving
        APPROVED/PUBLISHING for PUBLISHED or FAILED closes it (the DELIVERIES entry goes)."""
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
        items: list[Any] = [update]
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
        stored = self.delivery(draft_id, network)
        if stored is None:  # pragma: no cover - the update above just wrote it
            raise StoreError(f"the {network} delivery of {draft_id} vanished")
        return stored

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

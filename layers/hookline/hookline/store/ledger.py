"""The feed ledger: each feed's poll record, seen markers, kept skips, 304 batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from hookline.clock import iso, parse_iso
from hookline.models import Entry, Judgement, short_hash

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any
from hookline.store.records import FeedState, SkipConflict
from hookline.store.table import NOT_MODIFIED_CHUNK, SKIPPED, STATE_INDEX, TableBase, normalise_link


class FeedLedgerStore(TableBase):
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
        """Poll records of these feeds (absent: never polled), in one batched read.

        Eventually consistent, at half the price of a strong read: it is the read every poll
        makes of every feed, every minute, and the records it reads were written by the poll
        before, a minute ago (DynamoDB's replicas agree within about a second). A stale record
        would cost a full fetch instead of a 304, never a lost or doubled entry: the counters are
        ADDed, and drafts and seen markers are decided by conditional writes."""
        keys = [(f"FEED#{f}", "STATE") for f in dict.fromkeys(feed_ids)]
        items = self._batch_get([*keys, self.NOT_MODIFIED_KEY], keys_only=False, consistent=False)
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

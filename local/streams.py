"""The table's stream, locally: what Lambda's event source mapping does for PublishFunction.

In AWS, Lambda reads the table's DynamoDB stream, keeps the records that match the mapping's
FilterCriteria and invokes the function with them. DynamoDB Local has streams but no Lambda,
so `StreamTrigger` reads the stream itself (four times a second, as Lambda polls a shard),
applies the very filter template.yaml declares (read from it, never copied) and calls the same
handler with the same event shape. `matches` is the part of Lambda's filter rule syntax the
template uses, and is tested against the template's own patterns.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from local.dynamodb import TEMPLATE, _CfnLoader

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # Lambda polls each shard of a DynamoDB stream four times a second


def _event_source(template: Path, function: str, event: str) -> dict[str, Any]:
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    source = doc["Resources"][function]["Properties"]["Events"][event]
    if source["Type"] != "DynamoDB":
        raise ValueError(f"{function}.{event} is not a DynamoDB stream event source")
    return dict(source["Properties"])


def filter_patterns(
    template: Path = TEMPLATE, function: str = "PublishFunction", event: str = "DueNow"
) -> list[dict[str, Any]]:
    """The FilterCriteria patterns of a function's stream event source in template.yaml."""
    props = _event_source(template, function, event)
    return [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]


def batch_size(template: Path = TEMPLATE, function: str = "PublishFunction", event: str = "DueNow") -> int:
    return int(_event_source(template, function, event).get("BatchSize", 100))


def _value_matches(rule: Any, value: Any, present: bool) -> bool:
    """One value against one entry of a pattern's list: a literal, or a content filter."""
    if isinstance(rule, dict):
        [(kind, arg)] = rule.items()
        if kind == "exists":
            return present is bool(arg)
        if not present:
            return False
        if kind == "anything-but":
            return value not in (arg if isinstance(arg, list) else [arg])
        if kind == "prefix":
            return isinstance(value, str) and value.startswith(arg)
        raise ValueError(f"filter rule {kind!r} is not supported by the local matcher")
    return present and value == rule


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Does a record (Lambda's event shape) match a filter pattern? Every key of the pattern must
    match (AND); a list matches when any of its entries does (OR); nested objects recurse."""
    for key, rule in pattern.items():
        present = isinstance(record, Mapping) and key in record
        value = record.get(key) if present else None
        if isinstance(rule, Mapping):
            if not present or not isinstance(value, Mapping) or not matches(rule, value):
                return False
        elif isinstance(rule, list):
            if not any(_value_matches(entry, value, present) for entry in rule):
                return False
        else:
            raise ValueError(f"a filter pattern's leaves are lists; {key!r} is {rule!r}")
    return True


def wanted(record: Mapping[str, Any], patterns: Sequence[Mapping[str, Any]]) -> bool:
    """Lambda keeps a record that matches any one of the filters."""
    return any(matches(p, record) for p in patterns)


def lambda_record(raw: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it (JSON: the creation time in epoch seconds)."""
    record = dict(raw)
    record["dynamodb"] = dynamodb = dict(raw.get("dynamodb", {}))
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    record["eventSourceARN"] = stream_arn
    record.setdefault("eventSource", "aws:dynamodb")
    return record


class StreamTrigger:
    """Reads a DynamoDB Local table's stream in a thread and invokes `handler` with the records
    the template's filter keeps, in batches of the template's BatchSize."""

    def __init__(
        self,
        client: Any,
        streams: Any,
        table: str,
        handler: Callable[[dict[str, Any]], Any],
        *,
        template: Path = TEMPLATE,
    ) -> None:
        self.client, self.streams, self.table, self.handler = client, streams, table, handler
        self.patterns = filter_patterns(template)
        self.batch = batch_size(template)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.invocations = 0

    def start(self) -> StreamTrigger:
        """Open the stream and read it in a thread until stop()."""
        self.open()
        self._thread = threading.Thread(target=self._run, name="hookline-stream", daemon=True)
        self._thread.start()
        return self

    def open(self) -> StreamTrigger:
        """Start reading at the stream's end, as a new mapping does (poll_once() reads on)."""
        arn = self.client.describe_table(TableName=self.table)["Table"].get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {self.table} has no stream: create it with streams=True")
        self.arn = arn
        # LATEST on the shards open now, as the mapping starts; shards opened later from their start
        self._iterators = {
            shard: self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for shard in self._open_shards()
        }
        self._known = set(self._iterators)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _open_shards(self) -> list[str]:
        shards: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"StreamArn": self.arn}
        while True:
            desc = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards += desc.get("Shards", [])
            if not desc.get("LastEvaluatedShardId"):
                break
            kwargs["ExclusiveStartShardId"] = desc["LastEvaluatedShardId"]
        return [
            s["ShardId"] for s in shards if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})
        ]

    def _new_shards(self) -> None:
        for shard in self._open_shards():
            if shard not in self._known:
                self._known.add(shard)
                self._iterators[shard] = self.streams.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]

    def poll_once(self) -> int:
        """One pass over the shards: the records matched and handed to the handler."""
        kept: list[dict[str, Any]] = []
        for shard, iterator in list(self._iterators.items()):
            resp = self.streams.get_records(ShardIterator=iterator)
            kept += [
                record
                for record in (lambda_record(r, self.arn) for r in resp.get("Records", []))
                if wanted(record, self.patterns)
            ]
            following = resp.get("NextShardIterator")
            if following:
                self._iterators[shard] = following
            else:  # the shard closed: its children carry on
                del self._iterators[shard]
                self._new_shards()
        for start in range(0, len(kept), self.batch):
            self.invocations += 1
            self.handler({"Records": kept[start : start + self.batch]})
        return len(kept)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                # As the mapping with MaximumRetryAttempts 0: the batch is dropped, and the
                # publish schedule is the retry.
                log.exception("local stream trigger: a run failed; the schedule will retry")
            self._stop.wait(POLL_SECONDS)

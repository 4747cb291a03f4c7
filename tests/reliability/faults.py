"""Faults injected where the real ones happen: inside botocore (every AWS call) and at X's
transport (every request tweepy makes).

`Injector` wraps one botocore client's `_make_api_call` (the one method every operation
goes through, before retries, signing and the wire): it counts the calls of a run and
breaks the chosen one the chosen way. `Tripwire` is the process dying: a BaseException
raised before or after any AWS call or X request, which no `except Exception` of
hookline's can catch, so nothing is cleaned up, exactly as when Lambda kills a container.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError, ReadTimeoutError

WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})

# How a DynamoDB write can fail, as the caller sees it.
KINDS = {
    "throttled": "ProvisionedThroughputExceededException after botocore's own retries",
    "timeout": "the request timed out before DynamoDB applied it",
    "reply-lost": "DynamoDB applied the write, the answer was lost (ReadTimeout)",
    "retried": "DynamoDB applied the write, the answer was lost, botocore sent it again",
    "conditional": "the write's condition failed (someone else changed the item)",
}


class Killed(BaseException):
    """The function dies here: no except clause of hookline's runs, nothing is cleaned up."""


def label(operation: str, params: dict[str, Any]) -> str:
    """A write named by the kinds of item it touches: `TransactWriteItems(AUDIT,DRAFT)`."""
    text = json.dumps(params, default=str)
    kinds = set()
    for key in ('"pk": {"S": "', '"sk": {"S": "'):
        for part in text.split(key)[1:]:
            kinds.add(part.split('"', 1)[0].split("#", 1)[0])
    return f"{operation}({','.join(sorted(kinds))})" if kinds else operation


def is_conditional(operation: str, params: dict[str, Any]) -> bool:
    if operation == "TransactWriteItems":
        return any(
            "ConditionExpression" in next(iter(item.values())) for item in params.get("TransactItems", [])
        )
    return "ConditionExpression" in params


def _cancellation(params: dict[str, Any]) -> list[dict[str, str]]:
    """Which items of a transaction failed their condition: the first conditional one."""
    reasons, marked = [], False
    for item in params.get("TransactItems", []):
        body = next(iter(item.values()))
        if "ConditionExpression" in body and not marked:
            reasons.append({"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"})
            marked = True
        else:
            reasons.append({"Code": "None"})
    return reasons


def client_error(client: Any, operation: str, code: str, message: str, **extra: Any) -> ClientError:
    """The modelled exception class botocore would raise (so `except client.exceptions.X` sees it)."""
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
        **extra,
    }
    cls = client.exceptions.from_code(code)
    return cls(response, operation)  # type: ignore[no-any-return]


@dataclass
class Injector:
    """Counts one client's writes (or all its calls) and breaks the `at`-th one, once."""

    client: Any
    kind: str | None = None
    at: int = 0
    armed: bool = False
    seen: list[str] = field(default_factory=list)
    conditional: list[str] = field(default_factory=list)  # the conditional writes among them
    fired: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._real = self.client._make_api_call
        self.client._make_api_call = self._call

    def arm(self, kind: str | None, at: int = 0) -> None:
        """Count from here; break write number `at` (1-based) with `kind`; None only counts."""
        with self.lock:
            self.kind, self.at, self.seen, self.conditional, self.fired = kind, at, [], [], None
            self.armed = True

    def disarm(self) -> None:
        with self.lock:
            self.kind, self.at, self.armed = None, 0, False

    def counts(self, operation: str, params: dict[str, Any], kind: str | None) -> bool:
        if operation not in WRITES:
            return False
        return kind != "conditional" or is_conditional(operation, params)

    def _call(self, operation: str, params: dict[str, Any]) -> Any:
        with self.lock:
            kind = self.kind
            if not self.armed or not self.counts(operation, params, kind):
                hit = False
            else:
                self.seen.append(label(operation, params))
                if is_conditional(operation, params):
                    self.conditional.append(self.seen[-1])
                hit = kind is not None and len(self.seen) == self.at
                if hit:
                    self.fired = self.seen[-1]
        if not hit:
            return self._real(operation, params)
        endpoint = "http://127.0.0.1 (injected)"
        if kind == "throttled":
            raise client_error(
                self.client,
                operation,
                "ProvisionedThroughputExceededException",
                "injected: the request rate is too high",
            )
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=endpoint)
        if kind == "conditional":
            if operation == "TransactWriteItems":
                raise client_error(
                    self.client,
                    operation,
                    "TransactionCanceledException",
                    "injected: transaction cancelled",
                    CancellationReasons=_cancellation(params),
                )
            raise client_error(
                self.client, operation, "ConditionalCheckFailedException", "injected: condition failed"
            )
        if kind == "reply-lost":
            self._real(operation, params)
            raise ReadTimeoutError(endpoint_url=endpoint)
        if kind == "retried":
            # The first send was applied and its answer lost; botocore's retry sends the very
            # same request (the same idempotency token for a transaction) and returns that answer.
            with suppress(ClientError):
                self._real(operation, params)
            return self._real(operation, params)
        raise AssertionError(f"unknown fault kind {kind!r}")


# -- the process dying ------------------------------------------------------------------------


@dataclass
class Tripwire:
    """Numbered points around every AWS call and X request; dies (Killed) at point `at`."""

    at: int = 0
    armed: bool = False
    points: list[str] = field(default_factory=list)
    fired: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, at: int = 0) -> None:
        with self.lock:
            self.at, self.armed, self.points, self.fired = at, True, [], None

    def disarm(self) -> None:
        with self.lock:
            self.armed = False

    def point(self, name: str) -> None:
        with self.lock:
            if not self.armed:
                return
            self.points.append(name)
            if len(self.points) != self.at:
                return
            self.fired = name
        raise Killed(name)

    @contextmanager
    def installed(self, monkeypatch: Any, x_api: Any) -> Iterator[Tripwire]:
        real = BaseClient._make_api_call
        wire = self

        def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            service = client.meta.service_model.service_name
            name = f"{service}.{label(operation, params) if service == 'dynamodb' else operation}"
            wire.point(f"before {name}")
            result = real(client, operation, params)
            if service != "dynamodb" or operation in WRITES:
                wire.point(f"after {name}")  # applied, then the process died
            return result

        monkeypatch.setattr(BaseClient, "_make_api_call", make_api_call)
        for registered in x_api.mock.registered():
            callback: Callable[..., Any] = registered.callback
            path = registered.url.split("twitter.com", 1)[-1]

            def wrapped(request: Any, callback: Callable[..., Any] = callback, path: str = path) -> Any:
                wire.point(f"before X {path}")
                answer = callback(request)
                wire.point(f"after X {path} (X has it)")
                return answer

            monkeypatch.setattr(registered, "callback", wrapped)
        yield self

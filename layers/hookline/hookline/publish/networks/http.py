"""Plain JSON over HTTPS for the networks that need no SDK (Bluesky's XRPC, Mastodon's REST).

urllib3 is already in the Lambda runtime (botocore's): no dependency is added, and nothing
is imported at cold start. Transport failures become the port's outcome errors here, once,
for every adapter: never connected is NotSent (safe to repeat), sent without an answer is
Ambiguous. urllib3 never retries or follows a redirect on its own: a resent POST is a
second post.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from hookline.publish.networks.port import Ambiguous, NotSent

if TYPE_CHECKING:
    import urllib3

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
MAX_ANSWER = 2 * 1024 * 1024  # any answer we read is small JSON; a huge one is not the network's


class Transport(Protocol):
    """What the adapters use of urllib3.PoolManager (tests put a recording fake here)."""

    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body or b"{}")
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def message(self, *keys: str) -> str:
        data = self.json()
        parts = [str(data[k]) for k in keys if data.get(k)]
        return ": ".join(parts)[:500] or f"HTTP {self.status}"


def pool() -> urllib3.PoolManager:
    import urllib3

    return urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    )


def send(
    http: Transport,
    network: str,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    import urllib3
    from urllib3.exceptions import (
        ConnectTimeoutError,
        HTTPError,
        MaxRetryError,
        NameResolutionError,
        NewConnectionError,
        ReadTimeoutError,
    )

    try:
        resp = http.request(
            method,
            url,
            body=body,
            headers=dict(headers or {}),
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            data = resp.read(MAX_ANSWER + 1)
        finally:
            resp.release_conn()
    except MaxRetryError as exc:  # retries=False still wraps some errors in it
        reason = exc.reason or exc
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError, NameResolutionError)):
            raise NotSent(f"could not reach {network}: {type(reason).__name__}") from None
        raise Ambiguous(
            f"the connection to {network} failed after sending: {type(reason).__name__}"
        ) from None
    except (NewConnectionError, ConnectTimeoutError, NameResolutionError) as exc:
        raise NotSent(f"could not reach {network}: {type(exc).__name__}") from None
    except ReadTimeoutError:
        raise Ambiguous(f"{network} did not answer in time: ReadTimeoutError") from None
    except (HTTPError, OSError) as exc:
        raise Ambiguous(f"{network}'s answer was lost: {type(exc).__name__}") from None
    if len(data) > MAX_ANSWER:
        raise Ambiguous(f"{network} answered with more than {MAX_ANSWER} bytes")
    return Answer(status=resp.status, headers={k.lower(): v for k, v in resp.headers.items()}, body=data)


def parse_reset(value: str | None) -> datetime | None:
    """A rate limit's reset time: epoch seconds (Bluesky's ratelimit-reset) or ISO 8601 (Mastodon's)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

"""Bluesky and Mastodon as the reliability scenarios meet them: each adapter wired as the publish
function wires it, on the real PDS (Bluesky) or the Mastodon fake (tests/support/mastodon.py),
behind a transport that breaks the chosen call the chosen way.

`Faulty` sits where urllib3's pool sits in production, so every request an adapter makes goes
through it: it numbers them and answers the chosen ones as the server or the wire would (never
connected; stored, then the answer lost to a timeout or a reset; a 5xx before or after storing;
a refused token; a rate limit). A `Tripwire` can be given too: the process dies before or after
any request, as it can before or after any AWS call.

The truth a case is judged against is the server's: the PDS's records, the fake's statuses.
"""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.response import HTTPResponse

from hookline.config import Config, parse_config
from hookline.publish.delivery import publish_networks
from hookline.publish.networks.bluesky import BlueskyNetwork, TableSessions
from hookline.publish.networks.mastodon import MastodonNetwork, plain
from hookline.publish.networks.port import Network
from hookline.store import Store
from tests.conftest import base_config_data
from tests.reliability.system import Findings
from tests.support.mastodon import ACCOUNT_ID, ACCT, SERVER, TOKEN, MastodonFake
from tests.support.publishing import UNPACED

HANDLE = "reliability.test"

# What the wire or the server can do to one request. "stored, ..." kinds let the server act first.
KINDS = (
    "unreachable",
    "timeout after storing",
    "reset after storing",
    "500",
    "502 after storing",
    "503",
    "401 token refused",
    "429 rate limit",
)
AMBIGUOUS = ("timeout after storing", "reset after storing", "502 after storing")


def endpoint(url: str) -> str:
    path = urlsplit(url).path
    return path.split("/xrpc/", 1)[-1]


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HTTPResponse:
    return HTTPResponse(
        body=io.BytesIO(json.dumps(body).encode()),
        status=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        preload_content=False,
    )


def refusal(network: str, kind: str, path: str, now: datetime) -> HTTPResponse:
    """The answer the server sends for `kind`, in its own shape."""
    reset = now + timedelta(minutes=15)
    status = int(kind[:3])
    if network == "bluesky":
        if status == 401:
            if path == "com.atproto.server.createSession":
                return _answer(
                    401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"}
                )
            return _answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
        if status == 429:
            return _answer(
                429,
                {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                {
                    "ratelimit-limit": "30",
                    "ratelimit-remaining": "0",
                    "ratelimit-reset": str(int(reset.timestamp())),
                    "ratelimit-policy": "30;w=300",
                },
            )
        names = {500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources"}
        return _answer(status, {"error": names[status], "message": names[status]})
    if status == 401:
        return _answer(401, {"error": "The access token is invalid"})
    if status == 429:
        return _answer(
            429,
            {"error": "Too many requests"},
            {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.isoformat().replace("+00:00", ".000Z"),
            },
        )
    return _answer(status, {"error": "We're sorry, but something went wrong on our end."})


@dataclass
class Faulty:
    """The adapters' transport: the real one, except at the scripted requests (1-based numbers
    over the whole case) and, with a tripwire, a possible death around every request."""

    real: Any
    network: str
    clock: Callable[[], datetime]
    faults: dict[int, str] = field(default_factory=dict)
    wire: Any = None
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    serialise: bool = False  # the Mastodon fake is one process; the real server locks its keys

    def script(self, faults: dict[int, str]) -> None:
        with self.lock:
            self.faults, self.calls = dict(faults), []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        path = endpoint(url)
        with self.lock:
            self.calls.append(f"{method} {path}")
            kind = self.faults.get(len(self.calls))
        if self.wire is not None:
            self.wire.point(f"before {self.network} {path}")
        if kind == "unreachable":
            raise NewConnectionError(
                None, "Failed to establish a new connection: [Errno 111] Connection refused"
            )  # type: ignore[arg-type]
        if kind in ("500", "503", "401 token refused", "429 rate limit"):
            return refusal(self.network, kind, path, self.clock())
        if self.serialise:
            with _SERVER:
                resp = self.real.request(method, url, **kwargs)
        else:
            resp = self.real.request(method, url, **kwargs)
        if kind is not None:  # the server has acted; its answer never arrives
            resp.read()
            resp.release_conn()
            if kind == "timeout after storing":
                raise ReadTimeoutError(None, url, "Read timed out. (read timeout=10.0)")  # type: ignore[arg-type]
            if kind == "reset after storing":
                raise ProtocolError(
                    "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
                )
            return refusal(self.network, "502", path, self.clock())
        if self.wire is not None:
            self.wire.point(f"after {self.network} {path} (the server acted)")
        return resp


_SERVER = threading.Lock()


def config_for(network: str, pds: Any) -> Config:
    data = base_config_data()
    data.pop("account", None)
    # The scenarios are about faults, not pacing: every run may post every due draft, at any hour
    # the scenario's clock has reached.
    data["pacing"] = {
        **UNPACED["pacing"],
        "window": {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "23:59",
        },
    }
    if network == "bluesky":
        made = pds.account(HANDLE)
        data["accounts"] = {"bluesky": {"handle": HANDLE, "did": made.did, "service": pds.url}}
    else:
        data["accounts"] = {"mastodon": {"server": SERVER, "account_id": ACCOUNT_ID, "acct": ACCT}}
    return parse_config(data)


@dataclass
class Server:
    """One network's server for a scenario, and what it holds (the truth)."""

    name: str
    pds: Any = None
    fake: MastodonFake | None = None

    def texts(self) -> Counter[str]:
        """Every post the account has on the server, by its text."""
        if self.fake is not None:
            return Counter(plain(s["content"]) for s in self.fake.statuses)
        did = self.pds.account(HANDLE).did
        records, cursor = [], None
        while True:
            query = {"repo": did, "collection": "app.bsky.feed.post", "limit": "100"}
            if cursor:
                query["cursor"] = cursor
            page = self.pds.xrpc("com.atproto.repo.listRecords", query=query)
            records += page["records"]
            cursor = page.get("cursor")
            if not cursor or not page["records"]:
                return Counter(r["value"]["text"] for r in records)

    def transport(self, clock: Callable[[], datetime], wire: Any = None) -> Faulty:
        if self.fake is not None:
            return Faulty(self.fake, self.name, clock, wire=wire, serialise=True)
        return Faulty(urllib3.PoolManager(retries=False), self.name, clock, wire=wire)

    def adapter(self, config: Config, store: Store, http: Faulty, clock: Callable[[], datetime]) -> Network:
        """What Services.networks builds for the publish function, on this transport."""
        if self.name == "bluesky":
            assert config.accounts.bluesky is not None
            return BlueskyNetwork(
                config.accounts.bluesky,
                lambda: self.pds.account(HANDLE).app_password,
                TableSessions(store),
                http=http,
                clock=clock,
            )
        assert config.accounts.mastodon is not None
        return MastodonNetwork(config.accounts.mastodon, lambda: TOKEN, http=http, clock=clock)


def run(store: Store, network: Network, config: Config, now: datetime) -> None:
    """What the publish function runs for the networks beside X (functions/publish)."""
    publish_networks(store, {network.name: network}, config, now)


def check(
    store: Store, server: Server, before: Counter[str], drafts: list[Any], name: str
) -> tuple[Findings, int]:
    """Each approved draft on the server exactly once and recorded so, or FAILED with the
    reason; never twice, never left waiting. Returns the findings and the posts made."""
    found = Findings()
    made = server.texts() - before
    for text, count in made.items():
        if count > 1:
            found.duplicated.append(f"{name}: posted {count} times: {text[:60]}")
    for draft in drafts:
        delivery = store.delivery(draft.id, name)
        on_server = made.get(draft.text, 0) > 0
        state = delivery["delivery_state"] if delivery else None
        if state == "PUBLISHED":
            if not on_server:
                found.state_changes.append(
                    f"{draft.id} is PUBLISHED on {name} but the server has no such post"
                )
        elif state == "FAILED":
            if not delivery or not delivery.get("failure"):
                found.lost.append(f"{draft.id} FAILED on {name} without saying why")
            elif on_server:
                found.state_changes.append(
                    f"{draft.id} FAILED on {name} though the server has it: {delivery['failure']}"
                )
            else:
                found.notes[f"deliveries {name} refused (FAILED with its reason, Retry offered)"] += 1
        else:
            found.lost.append(f"{draft.id} ended {state} on {name}" + (" (posted)" if on_server else ""))
    return found, sum(made.values())

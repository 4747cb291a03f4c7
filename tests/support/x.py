"""The X API v2, intercepted at requests' transport (the `responses` library) and answered
from tweepy's recorded cassettes in tests/reference/x-api-cassettes.

Tests script what X answers to each create-post request and assert on exactly what
was sent: method, URL, JSON body, OAuth 1.0a signature presence, timeouts.
"""

from __future__ import annotations

import gzip
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import responses
import yaml

from tests.support.paths import REFERENCE

CASSETTES = REFERENCE / "x-api-cassettes"
API = "https://api.twitter.com"
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


def cassette(name: str) -> list[dict[str, Any]]:
    """The interactions of one cassette, bodies decompressed."""
    data = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text())
    out = []
    for interaction in data["interactions"]:
        raw = interaction["response"]["body"]["string"]
        body = gzip.decompress(raw) if isinstance(raw, bytes) and raw[:2] == b"\x1f\x8b" else raw
        out.append(
            {
                "request": interaction["request"],
                "status": interaction["response"]["status"]["code"],
                "headers": interaction["response"]["headers"],
                "body": json.loads(body),
            }
        )
    return out


RECORDED_ME = cassette("test_client_get_me")[0]["body"]["data"]  # TweepyDev
RECORDED_CREATE = cassette("test_client_create_and_delete_tweet")[0]  # 201 with an id


@dataclass
class Sent:
    method: str
    url: str
    body: dict[str, Any] | None
    headers: dict[str, str]
    timeout: Any


@dataclass
class XFake:
    mock: responses.RequestsMock
    user_id: str = RECORDED_ME["id"]
    username: str = RECORDED_ME["username"]
    script: deque[Any] = field(default_factory=deque)  # what X answers to the next create requests
    me_script: deque[Any] = field(default_factory=deque)  # what X answers to the next get_me requests
    sent: list[Sent] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # texts X actually created (like the account timeline)
    dedupe: bool = True  # like X: a text already created is refused with 403 duplicate content
    next_id: int = int(RECORDED_CREATE["body"]["data"]["id"])
    # The account's profile fields (description, url, entities, ...): sent only when a
    # get-me request asks for them with user.fields, as X does.
    profile: dict[str, Any] = field(default_factory=dict)
    access_level: str = "read-write-directmessages"  # get-me's x-access-level header, as recorded

    def __post_init__(self) -> None:
        self.mock.add_callback(responses.GET, f"{API}/2/users/me", callback=self._me)
        self.mock.add_callback(responses.POST, f"{API}/2/tweets", callback=self._create)

    @property
    def posts(self) -> list[str]:
        """Texts of create requests that reached X (including ones whose answer was lost)."""
        return [s.body["text"] for s in self.sent if s.url.endswith("/2/tweets") and s.body]

    def me_then(self, *outcomes: Any) -> XFake:
        """Queue answers to get_me: "timeout", "unreachable", "unauthorized" (revoked tokens)
        or (status, body, headers)."""
        self.me_script.extend(outcomes)
        return self

    def then(self, *outcomes: Any) -> XFake:
        """Queue answers: "ok", "duplicate", "timeout" (X received and created it, the answer is
        lost), "unreachable" (never sent), "reset" (connection dropped after X created it), or
        (status, body, headers). Unscripted requests get "ok", or the duplicate answer when X
        already created that text (`dedupe`)."""
        self.script.extend(outcomes)
        return self

    def _record(self, request: Any) -> None:
        body = json.loads(request.body) if request.body else None
        self.sent.append(
            Sent(
                request.method,
                request.url,
                body,
                dict(request.headers),
                getattr(request, "req_kwargs", {}).get("timeout"),
            )
        )

    def _me(self, request: Any) -> tuple[int, dict[str, str], str]:
        outcome = self.me_script.popleft() if self.me_script else "ok"
        if outcome == "unreachable":
            raise requests.exceptions.ConnectionError("NewConnectionError: Connection refused")
        self._record(request)
        if outcome == "timeout":
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=10.0)")
        if outcome == "unauthorized":
            body = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
            return 401, {"content-type": "application/problem+json"}, json.dumps(body)
        if isinstance(outcome, tuple):
            status, body, headers = (*outcome, {})[:3]
            return status, {"content-type": "application/json", **headers}, json.dumps(body)
        data = {**RECORDED_ME, "id": self.user_id, "username": self.username}
        wanted = parse_qs(urlsplit(request.url).query).get("user.fields", [""])[0].split(",")
        data.update({k: v for k, v in self.profile.items() if k in wanted})
        headers = {"content-type": "application/json; charset=utf-8", "x-access-level": self.access_level}
        return 200, headers, json.dumps({"data": data})

    def _create(self, request: Any) -> tuple[int, dict[str, str], str]:
        outcome = self.script.popleft() if self.script else "ok"
        if outcome == "unreachable":
            raise requests.exceptions.ConnectionError("NewConnectionError: Connection refused")
        self._record(request)
        text = json.loads(request.body)["text"]
        if outcome in ("timeout", "reset"):
            # X received it and acted on it; only the answer is lost. Like X, it created the
            # post, unless it already has this text (then its lost answer was 403 duplicate).
            if not (self.dedupe and text in self.created):
                self.created.append(text)
            if outcome == "timeout":
                raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=10.0)")
            raise requests.exceptions.ConnectionError("Connection aborted: ConnectionResetError(104)")
        if outcome == "duplicate" or (outcome == "ok" and self.dedupe and text in self.created):
            return 403, {"content-type": "application/json"}, json.dumps(DUPLICATE)
        if isinstance(outcome, tuple):
            status, body, headers = (*outcome, {})[:3]
            return status, {"content-type": "application/json", **headers}, json.dumps(body)
        self.next_id += 1
        self.created.append(text)
        headers = {k: v[0] for k, v in RECORDED_CREATE["headers"].items() if k.startswith("x-rate-limit")}
        body = {"data": {"id": str(self.next_id), "text": text}}
        return RECORDED_CREATE["status"], {"content-type": "application/json", **headers}, json.dumps(body)

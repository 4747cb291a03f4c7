"""Mastodon intercepted at the HTTP transport: a urllib3-shaped pool that records every request
exactly as sent (method, URL, headers, form body) and answers as a Mastodon server does.

The answers' shapes follow Mastodon's API documentation (docs.joinmastodon.org, methods/statuses,
methods/accounts, methods/instance): a Status for a create, an Account for verify_credentials, an
Instance (v2) with configuration.statuses, and {"error": ...} bodies for failures.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from urllib3.response import HTTPResponse

SERVER = "https://mastodon.example"
ACCOUNT_ID = "109302525734356474"
ACCT = "ExampleTrust"
TOKEN = "mastodon-token-test"

VERIFY_CREDENTIALS = {
    "id": ACCOUNT_ID,
    "username": ACCT,
    "acct": ACCT,
    "display_name": "Example Trust",
    "locked": False,
    "bot": False,
    "created_at": "2022-11-07T00:00:00.000Z",
    "note": "<p>News from Example Trust</p>",
    "url": f"{SERVER}/@{ACCT}",
    "followers_count": 1200,
    "statuses_count": 310,
}
INSTANCE_V2 = {
    "domain": "mastodon.example",
    "title": "Mastodon Example",
    "version": "4.3.0",
    "configuration": {
        "urls": {"streaming": "wss://mastodon.example"},
        "accounts": {"max_featured_tags": 10},
        "statuses": {"max_characters": 500, "max_media_attachments": 4, "characters_reserved_per_url": 23},
    },
}


def status_html(text: str) -> str:
    """How Mastodon renders a plain status: paragraphs, and links split into spans."""
    words = []
    for word in text.split(" "):
        if word.startswith("https://"):
            rest = word.removeprefix("https://")
            shown, hidden = rest[:30], rest[30:]
            words.append(
                f'<a href="{word}" rel="nofollow noopener" translate="no" target="_blank">'
                f'<span class="invisible">https://</span><span class="ellipsis">{shown}</span>'
                f'<span class="invisible">{hidden}</span></a>'
            )
        else:
            words.append(word.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    return "<p>" + " ".join(words).replace("\n", "<br />") + "</p>"


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.url).query)

    @property
    def form(self) -> dict[str, list[str]]:
        return parse_qs((self.body or b"").decode(), keep_blank_values=True)


Answer = tuple[int, Any] | tuple[int, Any, dict[str, str]] | BaseException


@dataclass
class MastodonFake:
    """A Mastodon server: keeps statuses, honours Idempotency-Key (within its memory), and can be
    told to answer the next requests to a path otherwise (an error status or a transport fault)."""

    clock: Callable[[], datetime]
    sent: list[Sent] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripted: dict[str, list[Answer]] = field(default_factory=dict)
    # A fault after the server made the status (the answer was lost on the way back).
    lose_answer_after_create: int = 0
    account: dict[str, Any] = field(default_factory=lambda: dict(VERIFY_CREDENTIALS))
    instance: dict[str, Any] = field(default_factory=lambda: json.loads(json.dumps(INSTANCE_V2)))

    def script(self, path: str, *answers: Answer) -> None:
        self.scripted.setdefault(path, []).extend(answers)

    def forget_keys(self) -> None:
        """The server's Idempotency-Key memory expired."""
        self.keys.clear()

    def creates(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "POST" and s.path == "/api/v1/statuses"]

    def request(self, method: str, url: str, body: bytes | None = None, headers: Any = None, **_: Any) -> Any:
        sent = Sent(method, url, dict(headers or {}), body)
        self.sent.append(sent)
        queue = self.scripted.get(sent.path)
        if queue:
            answer = queue.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return _response(*answer)
        if sent.path == "/api/v2/instance":  # public: no token
            return _response(200, self.instance)
        if sent.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _response(401, {"error": "The access token is invalid"})
        if sent.path == "/api/v1/accounts/verify_credentials":
            return _response(200, self.account)
        if sent.path == f"/api/v1/accounts/{self.account['id']}/statuses":
            return _response(200, list(reversed(self.statuses))[: int(sent.query.get("limit", ["20"])[0])])
        if sent.path == "/api/v1/statuses" and method == "POST":
            return self._create(sent)
        return _response(404, {"error": "Record not found"})

    def _create(self, sent: Sent) -> Any:
        key = sent.headers.get("Idempotency-Key")
        if key and key in self.keys:
            return _response(200, self.keys[key])
        form = {k: v[0] for k, v in sent.form.items()}
        text = form.get("status", "")
        if len(text) > self.instance["configuration"]["statuses"]["max_characters"]:
            return _response(422, {"error": "Validation failed: Text character limit of 500 exceeded"})
        status_id = str(113000000000000000 + len(self.statuses) + 1)
        status = {
            "id": status_id,
            "created_at": self.clock().isoformat().replace("+00:00", "Z"),
            "visibility": form.get("visibility", "public"),
            "language": form.get("language"),
            "uri": f"{SERVER}/users/{ACCT}/statuses/{status_id}",
            "url": f"{SERVER}/@{ACCT}/{status_id}",
            "content": status_html(text),
            "account": self.account,
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "card": None,
        }
        self.statuses.append(status)
        if key:
            self.keys[key] = status
        if self.lose_answer_after_create:
            self.lose_answer_after_create -= 1
            from urllib3.exceptions import ReadTimeoutError

            raise ReadTimeoutError(None, sent.url, "Read timed out.")  # type: ignore[arg-type]
        return _response(200, status)


def _response(status: int, body: Any, headers: dict[str, str] | None = None) -> HTTPResponse:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HTTPResponse(
        body=io.BytesIO(data),
        status=status,
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        preload_content=False,
    )

"""Mastodon behind the publishing port: its REST API over urllib3 (no SDK).

Mastodon.py would add a dependency for three calls. Exactly once rests on the
`Idempotency-Key` header, derived from the delivery so every attempt sends the same one:
the server answers a repeat with the status it already made. It keeps a key about an hour;
after an ambiguous attempt older than that, the account's own recent statuses are searched
for the post before it is sent again.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from hookline.clock import parse_iso, utc_now
from hookline.config import MastodonAccount
from hookline.publish.networks.http import Answer, Transport, parse_reset, pool, send
from hookline.publish.networks.port import (
    Ambiguous,
    CredentialsError,
    Identity,
    NetworkError,
    Post,
    Posted,
    RateLimited,
    Refused,
    Unauthorized,
    look_first,
)

NAME = "mastodon"
PRICE_PER_POST_USD = 0.0
DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_WEIGHT = 23
# The server keeps an Idempotency-Key about an hour (Mastodon's docs); trust it for less.
KEY_LIFETIME = timedelta(minutes=50)
INSTANCE_CACHE_SECONDS = 6 * 3600
RECENT_STATUSES = 40  # the API's largest page: far more than hookline posts in an hour


@dataclass(frozen=True)
class Limits:
    max_characters: int = DEFAULT_MAX_CHARACTERS
    url_weight: int = DEFAULT_URL_WEIGHT


# Per container, per server: the instance's limits change rarely, and compose asks per draft.
_INSTANCES: dict[str, tuple[float, Limits]] = {}


def idempotency_key(post: Post) -> str:
    """The same for every attempt of one delivery, and unguessable from outside."""
    return "hookline-" + hashlib.sha256(f"hookline:{post.key}".encode()).hexdigest()[:40]


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)


def plain(content: str) -> str:
    """A status's HTML content as comparable text: links' visible and hidden parts joined."""
    return " ".join(html.unescape(_TAG.sub("", _BREAK.sub(" ", content))).split())


class MastodonNetwork:
    name = NAME

    def __init__(
        self,
        account: MastodonAccount,
        token: Callable[[], str],
        *,
        http: Transport | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.account = account
        self._token = token
        self._http = http
        self.clock = clock

    @property
    def http(self) -> Transport:
        if self._http is None:
            self._http = pool()
        return self._http

    def _auth(self) -> str:
        token = self._token()
        if not token:
            raise CredentialsError("the Mastodon secret has no access_token")
        return token

    def credentials_id(self) -> str:
        return token_id(self._auth())

    def _call(
        self, method: str, path: str, *, form: dict[str, str] | None = None, key: str | None = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {self._auth()}", "Accept": "application/json"}
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if key:
            headers["Idempotency-Key"] = key
        answer = send(self.http, "Mastodon", method, self.account.base_url + path, body=body, headers=headers)
        _raise_for(answer, posting=form is not None)
        return answer

    def whoami(self) -> Identity:
        data = self._call("GET", "/api/v1/accounts/verify_credentials").json()
        if not data.get("id"):
            raise NetworkError("Mastodon's verify_credentials answered without an account id")
        return Identity(user_id=str(data["id"]), username=str(data.get("acct") or data.get("username") or ""))

    def limits(self) -> Limits:
        """The server's own post length and URL weight (GET /api/v2/instance, cached); the
        defaults when the server cannot say."""
        server = self.account.base_url
        cached = _INSTANCES.get(server)
        if cached and time.monotonic() - cached[0] < INSTANCE_CACHE_SECONDS:
            return cached[1]
        try:
            limits = read_limits(self.http, server) or Limits()
        except NetworkError:
            return Limits()  # not cached: the next draft asks again
        _INSTANCES[server] = (time.monotonic(), limits)
        return limits

    def post(self, post: Post) -> Posted:
        if post.after_ambiguous and self.clock() - post.first_attempt_at >= KEY_LIFETIME:
            # The server may have forgotten the key: a repeat could be a second status.
            found = look_first(self, post)
            if found:
                return found
        form = {"status": post.text, "visibility": self.account.visibility}
        if post.lang:
            form["language"] = post.lang
        data = self._call("POST", "/api/v1/statuses", form=form, key=idempotency_key(post)).json()
        if not data.get("id"):
            raise Ambiguous("Mastodon accepted the status but its answer had no id")
        return Posted(post_id=str(data["id"]), url=str(data.get("url") or self._url(str(data["id"]))))

    def lookup(self, post: Post) -> Posted | None:
        """The delivery's status among the account's own recent ones (same text, made since the
        first attempt), or None."""
        query = urlencode({"limit": RECENT_STATUSES, "exclude_replies": "true", "exclude_reblogs": "true"})
        answer = self._call("GET", f"/api/v1/accounts/{self.account.account_id}/statuses?{query}")
        try:
            statuses: list[Any] = json.loads(answer.body or b"[]")
        except ValueError:
            raise Ambiguous("Mastodon's list of recent statuses was unreadable") from None
        wanted = " ".join(post.text.split())
        since = post.first_attempt_at - timedelta(minutes=1)  # the server's clock may lag ours
        for status in statuses if isinstance(statuses, list) else []:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            try:
                made = parse_iso(str(status.get("created_at")))
            except ValueError:
                continue
            if made >= since and plain(str(status.get("content") or "")) == wanted:
                return Posted(
                    post_id=str(status["id"]), url=str(status.get("url") or self._url(str(status["id"])))
                )
        return None

    def _url(self, status_id: str) -> str:
        return f"{self.account.base_url}/@{self.account.bare_acct}/{status_id}"


def read_limits(http: Transport, server: str) -> Limits | None:
    """The server's limits from GET /api/v2/instance (no token needed); None when it answers
    but not 200, NetworkError when it cannot be reached. `server` is the configured one."""
    answer = send(
        http, "Mastodon", "GET", server + "/api/v2/instance", headers={"Accept": "application/json"}
    )
    if answer.status != 200:
        return None
    statuses = (answer.json().get("configuration") or {}).get("statuses") or {}
    return Limits(
        max_characters=_positive(statuses.get("max_characters"), DEFAULT_MAX_CHARACTERS),
        url_weight=_positive(statuses.get("characters_reserved_per_url"), DEFAULT_URL_WEIGHT),
    )


def _positive(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _raise_for(answer: Answer, *, posting: bool) -> None:
    status = answer.status
    if status < 300:
        return
    message = f"Mastodon {status}: {answer.message('error', 'error_description')}"
    if status == 401:
        raise Unauthorized(message, 401)
    if status == 403:
        # A token without write:statuses, or a suspended account: the credentials, not the post.
        raise Unauthorized(message, 403)
    if status == 429:
        raise RateLimited(message, parse_reset(answer.headers.get("x-ratelimit-reset")))
    if status >= 500:
        if posting:
            raise Ambiguous(message, status)
        raise NetworkError(message, status)
    raise Refused(message, status)  # 422 (too long, validation), 404, 400

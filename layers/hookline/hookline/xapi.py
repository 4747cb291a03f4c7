"""The X API, through tweepy, for the corporate account only.

Only two calls exist here: who am I (to check the credentials belong to the
corporate account) and create a post with plain text. There is no way to reply,
quote, mention or read anything, so no code path can do it by mistake.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from hookline.config import Account

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str


@dataclass(frozen=True)
class Posted:
    post_id: str | None
    url: str | None


class XError(Exception):
    """X refused or failed; subclasses say what the publisher should do about it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotSent(XError):
    """The request never reached X (connection refused, connect timeout): safe to retry."""


class Ambiguous(XError):
    """X may or may not have posted (read timeout, reset connection, 5xx after sending)."""


class RateLimited(XError):
    def __init__(self, message: str, reset_at: datetime | None) -> None:
        super().__init__(message, 429)
        self.reset_at = reset_at


class UsageCapped(XError):
    """The app's X usage cap is spent: nothing more can post until it resets."""


class Unauthorized(XError):
    """The credentials are wrong or revoked: hold all publishing, it is not this draft's fault."""


class Duplicate(XError):
    """X says the text duplicates a recent post of this account."""


class Refused(XError):
    """X refused this post (other 403, 400): a person must look."""


class Poster(Protocol):
    def whoami(self) -> Identity: ...

    def post(self, text: str) -> Posted: ...


def post_url(account: Account, post_id: str) -> str:
    return f"https://x.com/{account.bare_handle}/status/{post_id}"


def _timeout_adapter() -> requests.adapters.HTTPAdapter:
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        # tweepy sets no timeout; an X API that never answers must not hold the function.
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (CONNECT_TIMEOUT, READ_TIMEOUT)
            return super().send(request, *args, **kwargs)

    return TimeoutAdapter(max_retries=0)


class TweepyPoster:
    """Posts as the corporate account; credentials are fetched on first use, not at cold start."""

    def __init__(self, credentials: Callable[[], dict[str, str]], account: Account) -> None:
        self.account = account
        self._credentials = credentials
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            import tweepy

            creds = self._credentials()
            client = tweepy.Client(
                consumer_key=creds["consumer_key"],
                consumer_secret=creds["consumer_secret"],
                access_token=creds["access_token"],
                access_token_secret=creds["access_token_secret"],
                wait_on_rate_limit=False,
            )
            adapter = _timeout_adapter()
            client.session.mount("https://", adapter)
            client.session.mount("http://", adapter)
            # tweepy logs request details at DEBUG; keep it quiet whatever the root level is.
            logging.getLogger("tweepy").setLevel(logging.WARNING)
            self._client = client
        return self._client

    def whoami(self) -> Identity:
        resp = self._call(lambda: self.client.get_me(user_auth=True))
        data = resp.data
        return Identity(user_id=str(data.id), username=str(data.username))

    def post(self, text: str) -> Posted:
        resp = self._call(lambda: self.client.create_tweet(text=text, user_auth=True))
        post_id = str(resp.data["id"])
        return Posted(post_id=post_id, url=post_url(self.account, post_id))

    def _call(self, fn: Any) -> Any:
        import requests
        import tweepy

        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            body = _body_text(exc.response)
            if "usage-capped" in body.lower() or "usagecap" in body.lower():
                raise UsageCapped(f"X usage cap reached: {_messages(exc)}", 429) from None
            reset = exc.response.headers.get("x-rate-limit-reset")
            reset_at = datetime.fromtimestamp(int(reset), UTC) if reset and reset.isdigit() else None
            raise RateLimited(f"X rate limit: {_messages(exc)}", reset_at) from None
        except tweepy.Unauthorized as exc:
            raise Unauthorized(f"X rejected the credentials: {_messages(exc)}", 401) from None
        except tweepy.Forbidden as exc:
            message = _messages(exc)
            if "duplicate content" in message.lower():
                raise Duplicate(message, 403) from None
            raise Refused(message, 403) from None
        except tweepy.TwitterServerError as exc:
            raise Ambiguous(f"X server error {exc.response.status_code}: {_messages(exc)}", 500) from None
        except tweepy.HTTPException as exc:
            raise Refused(_messages(exc), exc.response.status_code) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise NotSent(f"could not reach X: {type(exc).__name__}") from None
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise NotSent(f"could not reach X: {type(exc).__name__}") from None
            raise Ambiguous(f"the connection to X failed after sending: {type(exc).__name__}") from None
        except requests.exceptions.Timeout as exc:
            raise Ambiguous(f"X did not answer in time: {type(exc).__name__}") from None


def _never_connected(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "NameResolutionError"))


def _body_text(response: Any) -> str:
    try:
        return str(response.text)
    except Exception:  # a body that cannot be decoded says nothing we need
        return ""


def _messages(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m] or [str(exc)]
    return "; ".join(messages)[:500]


class DryRunPoster:
    """Posts nothing; prints what would be posted (local stack) or logs it (shadow mode)."""

    def __init__(self, account: Account, *, shadow: bool = False) -> None:
        self.account = account
        self.shadow = shadow
        self.posted: list[str] = []

    def whoami(self) -> Identity:
        return Identity(user_id=self.account.user_id, username=self.account.bare_handle)

    def post(self, text: str) -> Posted:
        self.posted.append(text)
        if self.shadow:
            log.info("shadow mode: would post", extra={"text": text})
        else:
            one_line = text.replace("\n", " ")
            print(f"DRY-RUN POST: {one_line}", file=sys.stdout, flush=True)
        return Posted(post_id=None, url=None)

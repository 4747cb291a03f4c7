"""The X API, through tweepy, for the corporate account only.

Only two calls exist here: who am I (to check the credentials belong to the
corporate account) and create a post with plain text. The request body is
`{"text": ...}` and nothing else: no reply, quote, poll, media or reply settings
can be sent, and nothing is ever read, so no code path can do it by mistake.

A poster is bound to one set of credentials at a time (`credentials_id()` loads
them and names them by a fingerprint), so the account check and the posts that
follow it use the very same tokens: a secret rotated in between cannot slip a
different account's tokens under a check that was made for other ones.
"""

from __future__ import annotations

import hashlib
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from hookline.config import Account
from hookline.publish.networks.port import (
    Ambiguous,
    CredentialsError,
    Duplicate,
    Identity,
    NetworkError,
    NotSent,
    Posted,
    RateLimited,
    Refused,
    Unauthorized,
    UsageCapped,
)

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

# tweepy sets no timeout at all; an X API that never answers must not hold the function
# until Lambda kills it mid-attempt. Connect slightly above a multiple of 3 s (TCP's
# retransmit window); read long enough for a slow create, short enough for two tries a run.
CONNECT_TIMEOUT = 3.05
READ_TIMEOUT = 10.0
CREDENTIAL_FIELDS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


# The outcome errors are the publishing port's (hookline.publish.networks.port): every network's
# adapter answers in the same terms. The X names stay importable from here.
XError = NetworkError


class ProfileUnreadable(RuntimeError):
    """doctor could not read the account's profile; the message says what to do."""


class Poster(Protocol):
    def credentials_id(self) -> str:
        """Load the credentials (cached) and name them; whoami/post use exactly these."""
        ...

    def whoami(self) -> Identity: ...

    def post(self, text: str) -> Posted: ...


def post_url(account: Account, post_id: str) -> str:
    return f"https://x.com/{account.bare_handle}/status/{post_id}"


def fingerprint(credentials: Mapping[str, str]) -> str:
    """A short, one-way name for a set of tokens: stored beside the account check, never the tokens."""
    joined = "\x1f".join(credentials.get(k, "") for k in CREDENTIAL_FIELDS)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def _timeout_adapter(connect: float, read: float) -> requests.adapters.HTTPAdapter:
    from requests.adapters import HTTPAdapter

    class TimeoutAdapter(HTTPAdapter):
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (connect, read)
            return super().send(request, *args, **kwargs)

    # max_retries=0: urllib3 must never resend a POST on its own; a resend is a second post.
    return TimeoutAdapter(max_retries=0)


class TweepyPoster:
    """Posts as the corporate account; credentials are fetched on first use, not at cold start."""

    def __init__(
        self,
        credentials: Callable[[], Mapping[str, str]],
        account: Account,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.account = account
        self.timeouts = (connect_timeout, read_timeout)
        self._credentials = credentials
        self._client: Any = None
        self._id: str | None = None

    def credentials_id(self) -> str:
        creds = self._credentials()  # powertools caches the secret; a rotation shows within minutes
        missing = [k for k in CREDENTIAL_FIELDS if not creds.get(k)]
        if missing:
            raise CredentialsError(f"the X secret lacks {', '.join(missing)}")
        current = fingerprint(creds)
        if current != self._id:
            self._client = self._build(creds)
            self._id = current
        return current

    def _build(self, creds: Mapping[str, str]) -> Any:
        import tweepy

        client = tweepy.Client(
            consumer_key=creds["consumer_key"],
            consumer_secret=creds["consumer_secret"],
            access_token=creds["access_token"],
            access_token_secret=creds["access_token_secret"],
            wait_on_rate_limit=False,  # never sleep inside a Lambda; the next run waits
        )
        adapter = _timeout_adapter(*self.timeouts)
        client.session.mount("https://", adapter)
        client.session.mount("http://", adapter)
        # tweepy logs request bodies and headers at DEBUG; keep it quiet whatever the root level is.
        logging.getLogger("tweepy").setLevel(logging.WARNING)
        return client

    @property
    def client(self) -> Any:
        if self._client is None:
            self.credentials_id()
        return self._client

    def whoami(self) -> Identity:
        resp = self._call(lambda: self.client.get_me(user_auth=True))
        data = resp.data
        return Identity(user_id=str(data.id), username=str(data.username))

    def post(self, text: str) -> Posted:
        # The whole request body is {"text": text}: tweepy leaves out every None parameter.
        resp = self._call(lambda: self.client.create_tweet(text=text, user_auth=True))
        try:
            post_id = str(resp.data["id"])
        except (TypeError, KeyError) as exc:
            # X said 2xx, so the post most likely exists; without its id only the retry's
            # duplicate answer can tell, so this counts as ambiguous.
            raise Ambiguous(f"X accepted the post but its answer had no id ({exc!r})") from None
        return Posted(post_id=post_id, url=post_url(self.account, post_id))

    def _call(self, fn: Callable[[], Any]) -> Any:
        import requests
        import tweepy

        try:
            return fn()
        except tweepy.TooManyRequests as exc:
            if _is_usage_cap(exc):
                raise UsageCapped(f"X usage cap reached: {_messages(exc)}", 429) from None
            raise RateLimited(f"X rate limit: {_messages(exc)}", _reset_at(exc.response)) from None
        except tweepy.Unauthorized as exc:
            raise Unauthorized(f"X rejected the credentials (401): {_messages(exc)}", 401) from None
        except tweepy.Forbidden as exc:
            message = _messages(exc)
            if "duplicate content" in message.lower():
                raise Duplicate(message, 403) from None
            if _problem_type(exc) in APP_PROBLEMS:
                # The app, not this post: read-only permissions, not in a project, suspended.
                raise Unauthorized(f"X does not let these credentials post (403): {message}", 403) from None
            raise Refused(message, 403) from None
        except tweepy.TwitterServerError as exc:
            status = exc.response.status_code
            raise Ambiguous(f"X server error {status}: {_messages(exc)}", status) from None
        except tweepy.HTTPException as exc:
            if exc.response.status_code == 402:  # pay-per-use: the account's credit is spent
                raise UsageCapped(f"X credit exhausted (402): {_messages(exc)}", 402) from None
            raise Refused(_messages(exc), exc.response.status_code) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as exc:
            raise NotSent(f"could not reach X: {type(exc).__name__}") from None
        except requests.exceptions.ConnectionError as exc:
            if _never_connected(exc):
                raise NotSent(f"could not reach X: {type(exc).__name__}") from None
            raise Ambiguous(f"the connection to X failed after sending: {type(exc).__name__}") from None
        except requests.exceptions.Timeout as exc:
            raise Ambiguous(f"X did not answer in time: {type(exc).__name__}") from None
        except requests.exceptions.RequestException as exc:
            # A truncated or undecodable answer: the request was sent, the outcome is unknown.
            raise Ambiguous(f"X's answer was lost: {type(exc).__name__}") from None


# X's problem types (the `type` of a v2 error body) that mean the app or tokens cannot post.
APP_PROBLEMS = frozenset(
    {
        "https://api.twitter.com/2/problems/oauth1-permissions",
        "https://api.twitter.com/2/problems/client-forbidden",
        "https://api.twitter.com/2/problems/unsupported-authentication",
    }
)


def _json(response: Any) -> dict[str, Any]:
    try:
        data = response.json()
    except Exception:  # a body that is not JSON says nothing we need
        return {}
    return data if isinstance(data, dict) else {}


def _problem_type(exc: Any) -> str:
    return str(_json(exc.response).get("type") or "")


def _is_usage_cap(exc: Any) -> bool:
    body = _json(exc.response)
    kind = f"{body.get('type', '')} {body.get('title', '')}".lower()
    return "usage-capped" in kind or "usagecap" in kind


def _reset_at(response: Any) -> datetime | None:
    reset = str(response.headers.get("x-rate-limit-reset") or "")
    return datetime.fromtimestamp(int(reset), UTC) if reset.isdigit() else None


def _never_connected(exc: Exception) -> bool:
    text = str(exc)
    return any(s in text for s in ("NewConnectionError", "Connection refused", "NameResolutionError"))


def _messages(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m] or [str(exc)]
    return "; ".join(messages)[:500]


class DryRunPoster:
    """Posts nothing; prints what would be posted (local stack) or logs it (shadow mode)."""

    def __init__(self, account: Account, *, shadow: bool = False) -> None:
        self.account = account
        self.shadow = shadow
        self.posted: list[str] = []

    def credentials_id(self) -> str:
        return "dry-run"

    def whoami(self) -> Identity:
        return Identity(user_id=self.account.user_id, username=self.account.bare_handle)

    def post(self, text: str) -> Posted:
        self.posted.append(text)
        # The same line either way (the contract's), printed locally, logged in shadow mode.
        line = "DRY-RUN POST: [x] " + text.replace("\n", " ")
        if self.shadow:
            log.info(line, extra={"mode": "shadow", "network": "x", "text": text})
        else:
            print(line, file=sys.stdout, flush=True)
        return Posted(post_id=None, url=None)


# -- doctor's profile read ----------------------------------------------------------------


def read_profile(
    credentials: Mapping[str, str], account: Account, fields: list[str]
) -> tuple[dict[str, Any], str | None]:
    """GET /2/users/me with these profile fields (doctor's check), and the x-access-level header,
    which alone says whether the tokens may post. Errors are sentences for a person."""
    import requests
    import tweepy

    client = TweepyPoster(lambda: credentials, account).client
    try:
        resp = client.request("GET", "/2/users/me", params={"user.fields": ",".join(fields)}, user_auth=True)
    except tweepy.Unauthorized:
        raise ProfileUnreadable(
            "X rejected the credentials (401 Unauthorized): they are wrong or were revoked; regenerate the "
            "corporate account's access token and secret in the X developer portal and store them in the secret"
        ) from None
    except tweepy.Forbidden as exc:
        raise ProfileUnreadable(
            f"X refused (403 Forbidden: {_x_messages(exc)}): check the app's permissions (Read and Write) and "
            "that it is attached to a project in the X developer portal"
        ) from None
    except tweepy.TooManyRequests:
        raise ProfileUnreadable("X rate limit reached (429): run doctor again in 15 minutes") from None
    except tweepy.TwitterServerError as exc:
        raise ProfileUnreadable(
            f"X answered {exc.response.status_code} (a problem at X): run doctor again later"
        ) from None
    except tweepy.HTTPException as exc:
        raise ProfileUnreadable(f"X answered {exc.response.status_code}: {_x_messages(exc)}") from None
    except requests.exceptions.RequestException as exc:
        raise ProfileUnreadable(
            f"could not reach X ({type(exc).__name__}): check this machine's network, then run doctor again"
        ) from None
    try:
        data = resp.json()["data"]
    except (ValueError, KeyError, TypeError):
        raise ProfileUnreadable("X answered without the user: run doctor again later") from None
    return dict(data), resp.headers.get("x-access-level")


def _x_messages(exc: Any) -> str:
    messages = [str(m) for m in getattr(exc, "api_messages", []) if m]
    return "; ".join(messages)[:300] or type(exc).__name__

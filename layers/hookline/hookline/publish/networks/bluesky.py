"""Bluesky behind the publishing port: AT Protocol XRPC over urllib3 (no `atproto` SDK).

The SDK would add about 72 MB and 1.6 s of import (generated models) for six plain JSON
calls, and it drops None fields, where exactly once needs `swapRecord: null` sent as is.

Exactly once: the post is written with `com.atproto.repo.putRecord` at a record key (a TID)
fixed when the delivery is first attempted, with `swapRecord: null` ("must not exist yet")
and a fixed `createdAt`. The reference PDS answers an identical repeat with the same uri and
cid (a no-op), and anything else at that key with InvalidSwap, which also proves a record is
there: either way a retry cannot make a second post.

Logins are rate limited per account (createSession: 30 per 5 minutes, 300 a day, fewer in
practice). The session's tokens are kept (`SessionStore`), the access token is renewed with
refreshSession before it expires, and createSession is called again only when both tokens
are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

from hookline.clock import utc_now
from hookline.config import BlueskyAccount
from hookline.publish.networks.http import Answer, Transport, parse_reset, pool, send
from hookline.publish.networks.port import (
    Ambiguous,
    Card,
    CredentialsError,
    Identity,
    NetworkError,
    NotSent,
    Post,
    Posted,
    RateLimited,
    Refused,
    Unauthorized,
    look_first,
)

if TYPE_CHECKING:
    from hookline.poll.fetch import Fetcher

log = logging.getLogger(__name__)

NAME = "bluesky"
PRICE_PER_POST_USD = 0.0
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
COLLECTION = "app.bsky.feed.post"
# The PDS refuses bigger blobs for a card's thumb; nothing is resized (no image library fits
# the deploy size): a bigger or other image is no thumb rather than a broken one.
THUMB_MAX_BYTES = 1_000_000
THUMB_TYPES = ("image/jpeg", "image/png", "image/webp")
# Renew the access token this long before it expires (it lasts about 2 hours).
REFRESH_MARGIN = timedelta(minutes=10)
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TOKEN_ERRORS = ("ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired")


def tid(at: datetime, clock_id: int | None = None) -> str:
    """A record key: 13 characters of sortable base32 of microseconds since 1970 << 10 | clock id."""
    micros = int(at.timestamp() * 1_000_000)
    value = (micros << 10) | (secrets.randbelow(1024) if clock_id is None else clock_id & 1023)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def created_at(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def link_facets(text: str, link: str) -> list[dict[str, Any]]:
    """A link is only clickable with a facet, at UTF-8 byte offsets (not characters)."""
    where = text.rfind(link)
    if where < 0 or not link:
        return []
    start = len(text[:where].encode("utf-8"))
    return [
        {
            "index": {"byteStart": start, "byteEnd": start + len(link.encode("utf-8"))},
            "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
        }
    ]


# A hashtag as X and Bluesky's apps read one: after a space or the start, not all digits. Only the
# organisation's own tags are left in a post by then (compose neutralises feed text's, and the
# final check refuses any other), so each one found is made a tag.
_HASHTAG = re.compile(r"(?:^|(?<=\s))#(\w*[^\W\d_]\w*)")


def hashtag_facets(text: str, link: str) -> list[dict[str, Any]]:
    """Hashtags are only tags on Bluesky with a facet (`#tag`, the tag without its '#'), at
    UTF-8 byte offsets like the link's; nothing inside the link is taken for one."""
    where = text.rfind(link) if link else -1
    facets = []
    for m in _HASHTAG.finditer(text):
        if where >= 0 and where <= m.start() < where + len(link):
            continue
        start = len(text[: m.start()].encode("utf-8"))
        facets.append(
            {
                "index": {"byteStart": start, "byteEnd": start + len(m.group(0).encode("utf-8"))},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": m.group(1)}],
            }
        )
    return facets


def sniff_image(data: bytes) -> str | None:
    """The image's type from its first bytes (a server's Content-Type can lie)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def jwt_lifetime(token: str) -> timedelta | None:
    """How long a JWT is valid (`exp` - `iat`), read without checking its signature, only to
    renew it in time. Counted from when we received it, by our clock: the PDS's may differ."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return timedelta(seconds=int(claims["exp"]) - int(claims["iat"]))
    except (IndexError, ValueError, KeyError, TypeError):
        return None


class SessionStore(Protocol):
    """Where the session's tokens live between runs (the table's CONTROL item, encrypted at rest)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, session: dict[str, Any]) -> None: ...


class TableSessions:
    """The session in the table (DynamoDB encrypts it at rest with the table's KMS key)."""

    def __init__(self, store: Any, name: str = "SESSION#bluesky") -> None:
        self.store = store
        self.name = name

    def load(self) -> dict[str, Any] | None:
        item = self.store.get_control(self.name)
        return dict(item["session"]) if item and isinstance(item.get("session"), dict) else None

    def save(self, session: dict[str, Any]) -> None:
        self.store.put_control(self.name, {"session": session})


class BlueskyNetwork:
    name = NAME

    def __init__(
        self,
        account: BlueskyAccount,
        app_password: Callable[[], str],
        sessions: SessionStore,
        *,
        http: Transport | None = None,
        fetcher: Fetcher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.account = account
        self._password = app_password
        self.sessions = sessions
        self._http = http
        self.fetcher = fetcher
        self.clock = clock
        self._session: dict[str, Any] | None = None
        self.logins = 0
        self.refreshes = 0

    @property
    def http(self) -> Transport:
        if self._http is None:
            self._http = pool()
        return self._http

    @property
    def service(self) -> str:
        return str(self.account.service).rstrip("/")

    # -- XRPC ----------------------------------------------------------------------------

    def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        body: dict[str, Any] | None = None,
        raw: tuple[bytes, str] | None = None,
        query: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        url = f"{self.service}/xrpc/{nsid}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        elif raw is not None:
            data, headers["Content-Type"] = raw
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return send(self.http, "Bluesky", method, url, body=data, headers=headers)

    def _authed(self, method: str, nsid: str, **kwargs: Any) -> Answer:
        """A call with the access token, renewed (or, if both tokens are refused, a new login)
        when the PDS says it expired."""
        answer = self._xrpc(method, nsid, token=self._access(), **kwargs)
        if _token_refused(answer):
            self._renew(force=True)
            answer = self._xrpc(method, nsid, token=self._access(), **kwargs)
        return answer

    # -- the session ---------------------------------------------------------------------

    def credentials_id(self) -> str:
        password = self._password()
        if not password:
            raise CredentialsError("the Bluesky secret has no app_password")
        return hashlib.sha256(f"{self.account.bare_handle}\x1f{password}".encode()).hexdigest()[:16]

    def _access(self) -> str:
        session = self._current()
        renew_at = session.get("renew_at")
        if renew_at and datetime.fromisoformat(str(renew_at)) <= self.clock():
            session = self._renew()
        return str(session["accessJwt"])

    def _current(self) -> dict[str, Any]:
        if self._session is None:
            stored = self.sessions.load()
            if stored and stored.get("credentials_id") == self.credentials_id() and stored.get("accessJwt"):
                self._session = stored
            else:
                self._session = self._login()
        return self._session

    def _renew(self, *, force: bool = False) -> dict[str, Any]:
        session = self._current()
        refresh = str(session.get("refreshJwt") or "")
        spent = (
            session.get("refresh_until")
            and datetime.fromisoformat(str(session["refresh_until"])) <= self.clock()
        )
        if refresh and not spent:
            answer = self._xrpc("POST", "com.atproto.server.refreshSession", token=refresh)
            if answer.status == 200 and answer.json().get("accessJwt"):
                self.refreshes += 1
                self._session = self._keep(answer.json())
                return self._session
            if not _token_refused(answer):
                _raise_for(answer, writing=False)
        self._session = self._login()  # both tokens refused (or the refresh token is spent)
        return self._session

    def _login(self) -> dict[str, Any]:
        answer = self._xrpc(
            "POST",
            "com.atproto.server.createSession",
            body={"identifier": self.account.bare_handle, "password": self._password()},
        )
        self.logins += 1
        if answer.status == 401 or (answer.status == 400 and answer.json().get("error") in TOKEN_ERRORS):
            raise Unauthorized(f"Bluesky refused the app password: {answer.message('error', 'message')}", 401)
        _raise_for(answer, writing=False)
        log.info("bluesky: logged in (createSession)", extra={"handle": self.account.bare_handle})
        return self._keep(answer.json())

    def _keep(self, data: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        access, refresh = str(data["accessJwt"]), str(data.get("refreshJwt") or "")
        session: dict[str, Any] = {
            "accessJwt": access,
            "refreshJwt": refresh,
            "did": str(data.get("did") or ""),
            "handle": str(data.get("handle") or ""),
            "credentials_id": self.credentials_id(),
            "obtained_at": now.isoformat(),
        }
        lifetime = jwt_lifetime(access)
        if lifetime:
            session["renew_at"] = (now + max(lifetime - REFRESH_MARGIN, lifetime / 2)).isoformat()
        refresh_lifetime = jwt_lifetime(refresh)
        if refresh_lifetime:
            session["refresh_until"] = (now + refresh_lifetime - REFRESH_MARGIN).isoformat()
        self.sessions.save(session)
        return session

    def whoami(self) -> Identity:
        """The session's own account, as the PDS says (getSession): the guard compares the DID."""
        answer = self._authed("GET", "com.atproto.server.getSession")
        _raise_for(answer, writing=False)
        data = answer.json()
        if not data.get("did"):
            raise NetworkError("Bluesky's getSession answered without a DID")
        return Identity(user_id=str(data["did"]), username=str(data.get("handle") or ""))

    # -- posting -------------------------------------------------------------------------

    def record(self, post: Post, thumb: dict[str, Any] | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {
            "$type": COLLECTION,
            "text": post.text,
            "createdAt": created_at(post.first_attempt_at),
        }
        facets = link_facets(post.text, post.link) + hashtag_facets(post.text, post.link)
        if facets:
            record["facets"] = facets
        if post.lang:
            record["langs"] = [post.lang]
        if post.card:
            external: dict[str, Any] = {
                "uri": post.card.uri,
                "title": post.card.title[:300],
                "description": post.card.description[:1000],
            }
            if thumb:
                external["thumb"] = thumb
            record["embed"] = {"$type": "app.bsky.embed.external", "external": external}
        return record

    def post(self, post: Post) -> Posted:
        if not post.record_key:
            raise ValueError("a Bluesky delivery needs its record key (a TID) fixed before the first attempt")
        did = self._current()["did"]
        thumb = self._thumb(post.card) if post.card else None
        answer = self._authed(
            "POST",
            "com.atproto.repo.putRecord",
            body={
                "repo": did,
                "collection": COLLECTION,
                "rkey": post.record_key,
                "record": self.record(post, thumb),
                "swapRecord": None,  # must not exist yet: never overwrite, never a second post
            },
        )
        if answer.status == 400 and answer.json().get("error") == "InvalidSwap":
            # A record is already at this delivery's key: an earlier attempt made it.
            found = look_first(self, post)
            if found:
                return found
        _raise_for(answer, writing=True)
        uri = str(answer.json().get("uri") or "")
        if not uri:
            raise Ambiguous("Bluesky accepted the post but its answer had no uri")
        return Posted(post_id=uri, url=self.post_url(post.record_key))

    def lookup(self, post: Post) -> Posted | None:
        if not post.record_key:
            return None
        answer = self._xrpc(
            "GET",
            "com.atproto.repo.getRecord",
            query={"repo": self._current()["did"], "collection": COLLECTION, "rkey": post.record_key},
        )
        if answer.status == 400 and answer.json().get("error") == "RecordNotFound":
            return None
        _raise_for(answer, writing=False)
        uri = str(answer.json().get("uri") or "")
        return Posted(post_id=uri, url=self.post_url(post.record_key)) if uri else None

    def post_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self.account.bare_handle}/post/{rkey}"

    def _thumb(self, card: Card) -> dict[str, Any] | None:
        """The page's image as the card's thumb, only as it is: jpeg, png or webp, at most
        THUMB_MAX_BYTES, fetched through the project's guarded fetcher. Else no thumb."""
        if not card.image or self.fetcher is None:
            return None
        from hookline.poll.fetch import FetchError

        try:
            fetched = self.fetcher.get(card.image, accept=", ".join(THUMB_TYPES))
        except FetchError as exc:
            log.warning("bluesky: no thumb for the card", extra={"image": card.image, "reason": str(exc)})
            return None
        kind = sniff_image(fetched.body)
        if kind is None or len(fetched.body) > THUMB_MAX_BYTES:
            log.warning(
                "bluesky: no thumb for the card (not jpeg, png or webp within 976 KB)",
                extra={"image": card.image, "bytes": len(fetched.body)},
            )
            return None
        try:
            answer = self._authed("POST", "com.atproto.repo.uploadBlob", raw=(fetched.body, kind))
        except NotSent:
            return None
        if answer.status != 200 or not isinstance(answer.json().get("blob"), dict):
            log.warning("bluesky: the thumb upload failed", extra={"status": answer.status})
            return None
        return dict(answer.json()["blob"])


def _token_refused(answer: Answer) -> bool:
    if answer.status == 401:
        return True
    return answer.status == 400 and answer.json().get("error") in TOKEN_ERRORS


def _raise_for(answer: Answer, *, writing: bool) -> None:
    status = answer.status
    if status < 300:
        return
    message = f"Bluesky {status}: {answer.message('error', 'message')}"
    if _token_refused(answer) or status == 403 or answer.json().get("error") in ("AccountTakedown",):
        raise Unauthorized(message, status)
    if status == 429:
        raise RateLimited(message, parse_reset(answer.headers.get("ratelimit-reset")))
    if status >= 500:
        if writing:
            raise Ambiguous(message, status)
        raise NetworkError(message, status)
    raise Refused(message, status)

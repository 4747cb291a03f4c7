"""The publishing port: the one small interface the publish stage talks to.

Each corporate network (X, Bluesky, Mastodon; LinkedIn next) is an adapter module
beside this one that implements `Network`. The publish stage knows only this module:
it never imports a network's SDK or speaks a network's wire format, so adding a
network is one new module and its tests.

An adapter turns every way its network can answer into one of the outcome errors
below, which say what the publisher should do (retry safely, retry without knowing,
wait, hold the account, fail the delivery), not what the network said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

NetworkName = Literal["x", "bluesky", "mastodon"]
NETWORKS: tuple[NetworkName, ...] = ("x", "bluesky", "mastodon")


@dataclass(frozen=True)
class Identity:
    """Who the credentials belong to, in the network's own terms (X user id, DID, account id)."""

    user_id: str
    username: str


@dataclass(frozen=True)
class Posted:
    post_id: str | None
    url: str | None


@dataclass(frozen=True)
class Card:
    """A link card built from the link pre-flight (Bluesky builds none itself)."""

    uri: str
    title: str
    description: str = ""
    image: str | None = None  # the page's image URL; the adapter decides if it can be the thumb


@dataclass(frozen=True)
class Post:
    """One delivery of one draft to one network, identical on every attempt.

    `key` names the delivery (draft and network); `first_attempt_at` and `record_key` are
    fixed when the delivery is first attempted and kept across retries, which is what lets a
    network recognise a retry as the same post (Mastodon's Idempotency-Key, Bluesky's TID).
    """

    key: str
    text: str
    link: str
    first_attempt_at: datetime
    record_key: str | None = None
    # An earlier attempt may have reached the network: the adapter must not make a second post.
    after_ambiguous: bool = False
    lang: str | None = None
    card: Card | None = None
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Network(Protocol):
    name: str

    def credentials_id(self) -> str:
        """Load the credentials (cached) and name them; whoami/post use exactly these."""
        ...

    def whoami(self) -> Identity:
        """The account the credentials belong to: the corporate-account guard compares it."""
        ...

    def post(self, post: Post) -> Posted: ...

    def lookup(self, post: Post) -> Posted | None:
        """After an ambiguous attempt: the post if the network has it, None if it surely has not
        or cannot tell (the adapter's post() is then safe to repeat, or says Duplicate)."""
        ...


class CredentialsError(RuntimeError):
    """A network's secret is missing or incomplete: a person has to fix it; that network is held."""


class NetworkError(Exception):
    """The network refused or failed; subclasses say what the publisher should do about it."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotSent(NetworkError):
    """The request never reached the network (connection refused, connect timeout): safe to retry."""


class Ambiguous(NetworkError):
    """The network may or may not have posted (read timeout, reset connection, 5xx after sending)."""


class RateLimited(NetworkError):
    def __init__(self, message: str, reset_at: datetime | None) -> None:
        super().__init__(message, 429)
        self.reset_at = reset_at


class UsageCapped(NetworkError):
    """The app's usage cap or credit is spent (X: 429 usage-capped, 402): nothing more posts today."""


class Unauthorized(NetworkError):
    """The credentials are wrong or revoked, or may not post: hold that network.

    It is the credentials' fault, not the draft's, so no delivery is failed for it.
    """


class Duplicate(NetworkError):
    """The network says this post already exists (X: duplicate content of a recent post)."""


class Refused(NetworkError):
    """The network refused this post (other 403, 400, 422): a person must look."""


class WrongAccount(Unauthorized):
    """The credentials work, but for another account than the configured corporate one."""

    def __init__(self, message: str, seen: Identity) -> None:
        super().__init__(message)
        self.seen = seen


def guard(network: Network, expected_id: str, expected_name: str) -> Identity:
    """The corporate-account guard: the credentials must belong to the configured account
    (X user id, Bluesky DID, Mastodon account id), or nothing posts to that network."""
    me = network.whoami()
    if me.user_id != expected_id:
        raise WrongAccount(
            f"the {network.name} credentials belong to {me.username or '?'} ({me.user_id}), not the corporate "
            f"account {expected_name} ({expected_id}); nothing will be posted there",
            me,
        )
    return me


def look_first(network: Network, post: Post) -> Posted | None:
    """`lookup` on the way to a post. Failing to look is not the post refused: nothing was sent
    this attempt, so the delivery waits for its next try (NotSent) instead of being FAILED while
    the network may well have it. Refused credentials and limits keep their meaning."""
    try:
        return network.lookup(post)
    except (Unauthorized, RateLimited, UsageCapped):
        raise
    except NetworkError as exc:
        raise NotSent(
            f"could not look for an earlier attempt's post on {network.name}: {exc}", exc.status
        ) from None

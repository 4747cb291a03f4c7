"""The corporate-account guard: nothing posts unless the credentials in use were checked, within the last few hours, to belong to the configured account."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hookline.clock import iso
from hookline.config import Config
from hookline.store import ControlStore

if TYPE_CHECKING:
    pass
from typing import TYPE_CHECKING

from hookline.clock import parse_iso
from hookline.publish.networks.port import (
    CredentialsError,
    Network,
    NetworkError,
    Unauthorized,
)
from hookline.publish.xapi import Poster


class AccountHeld(Exception):
    """The credentials are not the corporate account's, or cannot be used: nothing posts."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(reason)


class AccountUnchecked(Exception):
    """X could not be asked (unreachable, rate limited): nothing posts this run."""


def check_account(store: ControlStore, poster: Poster | Network, config: Config, now: datetime) -> str:
    """The credentials in use must belong to the configured corporate account, or nothing posts.

    The result is cached in the table (for these exact tokens and this user id), so a cold
    start does not spend an X request; it is renewed after ACCOUNT_CHECK_MAX_AGE. Returns the
    checked credentials' id: the poster keeps using exactly those until asked again.
    """
    expected = config.account.user_id
    try:
        credentials = poster.credentials_id()
    except CredentialsError as exc:
        problem = f"the X credentials cannot be used: {exc}; nothing will be posted"
        _account_failed(store, now, kind="credentials", problem=problem, credentials=None, expected=expected)
        raise AccountHeld("credentials", problem) from None

    cached = store.get_control("ACCOUNT")
    hold = store.hold_state()
    if cached and cached.get("credentials_id") == credentials and cached.get("expected") == expected:
        age = now - parse_iso(cached["checked_at"])
        if cached.get("ok") and age < ACCOUNT_CHECK_MAX_AGE and not (hold and hold.kind in ACCOUNT_HOLDS):
            return credentials
        if not cached.get("ok") and age < ACCOUNT_RECHECK_AFTER_FAILURE:
            kind, problem = str(cached.get("kind") or "account"), str(cached.get("problem"))
            if not hold or hold.kind not in ACCOUNT_HOLDS:
                store.set_hold(kind, problem, now=now)
            raise AccountHeld(kind, problem)

    try:
        me = poster.whoami()
    except Unauthorized as exc:
        problem = f"{exc}; nothing will be posted until the credentials are fixed"
        _account_failed(
            store, now, kind="credentials", problem=problem, credentials=credentials, expected=expected
        )
        raise AccountHeld("credentials", problem) from None
    except NetworkError as exc:
        raise AccountUnchecked(f"could not check the X account: {exc}") from None
    if me.user_id != expected:
        problem = (
            f"the X credentials belong to @{me.username} (user id {me.user_id}), not the corporate account "
            f"@{config.account.bare_handle} (user id {expected}); nothing will be posted"
        )
        _account_failed(
            store,
            now,
            kind="account",
            problem=problem,
            credentials=credentials,
            expected=expected,
            seen=(me.user_id, me.username),
        )
        raise AccountHeld("account", problem)
    store.put_control(
        "ACCOUNT",
        {
            "ok": True,
            "expected": expected,
            "user_id": me.user_id,
            "username": me.username,
            "credentials_id": credentials,
            "checked_at": iso(now),
        },
    )
    if store.clear_hold(ACCOUNT_HOLDS):
        log.warning("publishing resumed: the account check passes again", extra={"user_id": me.user_id})
    return credentials


def _account_failed(
    store: ControlStore,
    now: datetime,
    *,
    kind: str,
    problem: str,
    credentials: str | None,
    expected: str,
    seen: tuple[str, str] | None = None,
) -> None:
    log.error("publishing held", extra={"kind": kind, "reason": problem})
    store.put_control(
        "ACCOUNT",
        {
            "ok": False,
            "kind": kind,
            "expected": expected,
            "credentials_id": credentials,
            "user_id": seen[0] if seen else None,
            "username": seen[1] if seen else None,
            "checked_at": iso(now),
            "problem": problem,
        },
    )
    store.set_hold(kind, problem, now=now)


# A passed account check is trusted this long (and only for the same tokens and user id).

log = logging.getLogger(__name__)
ACCOUNT_CHECK_MAX_AGE = timedelta(hours=3)
# A failed check is not repeated sooner (each is an X request), unless the secret changed.
ACCOUNT_RECHECK_AFTER_FAILURE = timedelta(minutes=15)
ACCOUNT_HOLDS = ("account", "credentials")

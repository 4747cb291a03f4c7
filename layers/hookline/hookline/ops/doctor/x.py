"""The X account: the credentials belong to the configured corporate account, the tokens
may post, and the profile links the organisation and names a person."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from hookline.config import Config
from hookline.ops.doctor.base import FAIL, OK, WARN, Check, DoctorBase, host_of

PROFILE_FIELDS = ["url", "description", "entities"]


@dataclass(frozen=True)
class XMe:
    """Who the credentials are, as X says: the user with its profile fields, and what the tokens may do."""

    data: dict[str, Any]
    access_level: str | None  # X's x-access-level header: read, read-write, read-write-directmessages


ProfileReader = Callable[[dict[str, str], Config], XMe]


class XCheckFailed(Exception):
    """The X API did not say who the credentials belong to; the message says what to do."""


def read_x_profile(credentials: dict[str, str], config: Config) -> XMe:
    """GET /2/users/me with the profile fields, through xapi's client (its timeouts and quiet
    logging); the raw response, because only its headers say whether the tokens may post."""
    from hookline.publish.xapi import ProfileUnreadable, read_profile

    try:
        data, access_level = read_profile(credentials, config.account, PROFILE_FIELDS)
    except ProfileUnreadable as exc:
        raise XCheckFailed(str(exc)) from None
    return XMe(data=data, access_level=access_level)


def profile_links(data: dict[str, Any]) -> list[str]:
    """Every link in the profile: the website field and links in the bio, expanded from t.co."""
    entities = data.get("entities") or {}
    links = []
    for where in ("url", "description"):
        for item in (entities.get(where) or {}).get("urls") or []:
            links.append(str(item.get("expanded_url") or item.get("url") or ""))
    if data.get("url"):
        links.append(str(data["url"]))
    return [link for link in links if link]


def profile_people(data: dict[str, Any]) -> list[str]:
    """Accounts the bio names (@mentions), other than the account itself."""
    own = str(data.get("username", "")).lower()
    mentions = ((data.get("entities") or {}).get("description") or {}).get("mentions") or []
    names = [str(m.get("username", "")) for m in mentions]
    return [n for n in names if n and n.lower() != own]


class XChecks(DoctorBase):
    read_profile: ProfileReader

    def check_x(self, credentials: dict[str, str], secret: str) -> Iterator[Check]:
        account = self.config.account
        try:
            answer = self.read_profile(credentials, self.config)
        except XCheckFailed as exc:
            yield Check(FAIL, "x account", str(exc))
            return
        me = answer.data
        user_id, username = str(me.get("id", "")), str(me.get("username", ""))
        if user_id != account.user_id:
            yield Check(
                FAIL,
                "x account",
                f"the credentials belong to @{username} (user id {user_id}), not the corporate account "
                f"@{account.bare_handle} (user id {account.user_id}); nothing would be posted. Store the "
                f"corporate account's tokens in {secret}, or correct account.user_id in {self.config_source}",
            )
            return
        yield Check(
            OK,
            "x account",
            f"the credentials belong to @{username} (user id {user_id}), the corporate account",
        )
        if username.lower() != account.bare_handle.lower():
            yield Check(
                WARN,
                "x account handle",
                f"the account is now @{username}, the config says @{account.bare_handle}: "
                f"update account.handle in {self.config_source} (post links use it)",
            )
        level = answer.access_level
        if level is not None and "write" not in level:
            yield Check(
                FAIL,
                "x access",
                f"the tokens may only {level}, so nothing can be posted: set the app's permissions to "
                "Read and write in the X developer portal, then regenerate the access token and secret "
                f"(tokens keep the permissions they were made with) and store them in {secret}",
            )
        else:
            yield Check(OK, "x access", f"the tokens may post ({level or 'X did not say; assumed'})")
        yield from self.check_profile(me)

    def check_profile(self, me: dict[str, Any]) -> Iterator[Check]:
        homepage = str(self.config.organisation.homepage)
        links = profile_links(me)
        if any(host_of(link) == host_of(homepage) for link in links):
            yield Check(OK, "x profile homepage", f"the profile links {homepage}")
        else:
            yield Check(
                WARN,
                "x profile homepage",
                f"the profile does not link the organisation's homepage ({homepage}): add it as the profile's "
                "website, so followers can find the organisation behind the account",
            )
        people = profile_people(me)
        if people:
            yield Check(OK, "x profile person", "the bio names " + ", ".join(f"@{p}" for p in people))
        else:
            yield Check(
                WARN,
                "x profile person",
                "the bio does not name the person responsible for the account: add their personal handle "
                "(e.g. 'Posts by @name'), so followers can reach a person inside the organisation",
            )

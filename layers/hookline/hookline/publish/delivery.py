"""Deliveries to the networks beside X (Bluesky, Mastodon): one per (draft, network), each with
its own state, exactly once, and never held or repeated by another network's trouble.

A draft keeps its decision (PENDING, APPROVED, REJECTED, EXPIRED). Once approved, each
configured network other than X gets a delivery (store: DRAFT#<id> / NETWORK#<network>):
APPROVED -> PUBLISHING -> PUBLISHED, or FAILED (Retry puts it back to APPROVED). Every move
is a conditional write on the state and version the publisher read; the claim carries an
attempt id and a start time (the lease), and only that attempt may record its outcome.

What keeps a retry from posting twice is the network's own: the delivery's key and its first
attempt's time and record key are fixed at the first claim and sent identically on every
attempt (Mastodon's Idempotency-Key, Bluesky's TID record key with swapRecord null), and an
attempt whose outcome was lost is retried as `after_ambiguous`, which makes the adapter look
before it posts where its network needs that.

Each network keeps its own pace: the shared `pacing` window, spacing and daily cap are applied
to it alone (its own last post and day's count, reserved by a conditional write before it posts);
the monthly spend cap is X's, since only X bills.

X keeps its own delivery in the draft's state machine (publish.run, publish.attempt), as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from hookline.clock import iso, parse_iso
from hookline.config import Config
from hookline.models import Draft, State
from hookline.publish.account import ACCOUNT_CHECK_MAX_AGE
from hookline.publish.attempt import MAX_REASON, RETRY_BACKOFF
from hookline.publish.networks.bluesky import tid
from hookline.publish.networks.port import (
    Ambiguous,
    Card,
    CredentialsError,
    Network,
    NetworkError,
    NotSent,
    Post,
    RateLimited,
    Unauthorized,
    guard,
)
from hookline.publish.pacing import in_window, periods
from hookline.publish.recovery import MAX_RETRIES
from hookline.store import DeliveryStore, PaceRefused, PublishStore, StateConflict

log = logging.getLogger(__name__)
# Every network keeps X's publishing policy: the same guard age, retries and backoff.
GUARD_MAX_AGE = ACCOUNT_CHECK_MAX_AGE

# Decisions that stop a delivery not yet published (withdraw, expiry).
STOPPED = (State.REJECTED, State.EXPIRED)


@dataclass
class NetworkReport:
    published: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    held: str | None = None
    waiting: str | None = None  # the ordinary reasons nothing (more) went out: window, spacing, cap


class Tried(NamedTuple):
    go_on: bool  # False: the network is not tried again this run
    used_slot: bool  # the network posted, or may have: the pace reservation stands


def expected_account(config: Config, network: str) -> tuple[str, str]:
    """The configured corporate account's id and name on `network` (what the guard compares)."""
    accounts = config.accounts
    if network == "bluesky" and accounts.bluesky:
        return accounts.bluesky.did, f"@{accounts.bluesky.bare_handle}"
    if network == "mastodon" and accounts.mastodon:
        return accounts.mastodon.account_id, f"@{accounts.mastodon.bare_acct}@{accounts.mastodon.server.host}"
    if network == "x" and accounts.x:
        return accounts.x.user_id, f"@{accounts.x.bare_handle}"
    raise KeyError(f"no {network} account is configured")


def open_deliveries(store: DeliveryStore, config: Config, draft: Draft, now: datetime) -> list[str]:
    """Each configured network but X gets its delivery of an approved draft (once)."""
    made = []
    for network in config.networks:
        if network == "x":
            continue
        rendition = draft.networks.get(network) or {}
        if rendition.get("included") is False:
            continue  # the approver left this network out of this post
        # The link card is the page's own (the pre-flight's og: tags), else the entry's words.
        card = (draft.preflight or {}).get("card") or {}
        data = {
            "text": str(rendition.get("text") or draft.text),
            "link": str(rendition.get("link") or draft.post_link),
            "title": str(card.get("title") or draft.title),
            "summary": str(card.get("description") or draft.summary[:300]),
            "image": card.get("image") or None,
            "retries": 0,
        }
        if store.create_delivery(draft.id, network, data, now=now):
            made.append(network)
    return made


def _hold_name(network: str) -> str:
    return f"HOLD#{network}"


def check_network(store: PublishStore, network: Network, config: Config, now: datetime) -> None:
    """The corporate-account guard for one network, before its first post and every few hours.
    A mismatch or refused credentials hold that network only, and say why."""
    expected, name = expected_account(config, network.name)
    try:
        credentials = network.credentials_id()
    except CredentialsError as exc:
        _hold(store, network.name, f"the {network.name} credentials cannot be used: {exc}", now)
        raise
    cached = store.get_control(f"ACCOUNT#{network.name}")
    if (
        cached
        and cached.get("ok")
        and cached.get("credentials_id") == credentials
        and cached.get("expected") == expected
        and now - parse_iso(cached["checked_at"]) < GUARD_MAX_AGE
    ):
        return
    try:
        me = guard(network, expected, name)
    except Unauthorized as exc:
        _hold(store, network.name, str(exc), now)
        log.error("publishing held for one network", extra={"network": network.name, "reason": str(exc)})
        raise
    store.put_control(
        f"ACCOUNT#{network.name}",
        {
            "ok": True,
            "expected": expected,
            "user_id": me.user_id,
            "credentials_id": credentials,
            "checked_at": iso(now),
        },
    )
    store.delete_control(_hold_name(network.name))


def _hold(store: PublishStore, network: str, reason: str, now: datetime) -> None:
    store.put_control(_hold_name(network), {"kind": "account", "reason": reason, "at": iso(now)})


def publish_networks(
    store: PublishStore,
    networks: Mapping[str, Network],
    config: Config,
    now: datetime,
    *,
    lease: timedelta = timedelta(minutes=5),
) -> dict[str, NetworkReport]:
    """One run over every network but X: open the deliveries of approved drafts, then post each
    network's due deliveries. A network's failure stays in its own report."""
    reports = {name: NetworkReport() for name in networks if name != "x"}
    for draft in store.drafts_in(State.APPROVED):
        open_deliveries(store, config, draft, now)
    if store.pause_state().paused:
        for report in reports.values():
            report.held = "paused"
        return reports
    for name, report in reports.items():
        network = networks[name]
        try:
            _run_network(store, network, config, now, lease, report)
        except (Unauthorized, CredentialsError) as exc:
            report.held = str(exc)
        except NetworkError as exc:
            report.held = f"could not check the {name} account: {exc}"
    return reports


def _run_network(
    store: PublishStore,
    network: Network,
    config: Config,
    now: datetime,
    lease: timedelta,
    report: NetworkReport,
) -> None:
    due = []
    for draft_id in store.open_deliveries(network.name):
        delivery = store.delivery(draft_id, network.name)
        if delivery is None:
            continue
        if delivery["delivery_state"] == "PUBLISHING":
            if parse_iso(delivery["attempt"]["started_at"]) > now - lease:
                continue  # a live attempt
            delivery = _take_over(store, delivery, now)
            if delivery is None:
                continue
        if delivery["delivery_state"] != "APPROVED":
            continue
        if delivery.get("not_before") and parse_iso(delivery["not_before"]) > now:
            continue
        draft = store.find_draft(draft_id)
        if draft is None or draft.state in STOPPED:
            _stop(store, delivery, now, draft)
            continue
        due.append((delivery, draft))
    if not due:
        return
    if not in_window(config, now):
        report.waiting = "outside the publish window"
        return
    check_network(store, network, config, now)
    for delivery, draft in due:
        # Each network keeps its own pace (window, spacing, daily cap), reserved by a conditional
        # write before the post as X's is, and given back when nothing went out; no spend: only X bills.
        _, day = periods(config, now)
        try:
            store.reserve_slot(
                network=network.name,
                now=now,
                day=day,
                daily_cap=config.pacing.daily_cap,
                spacing=timedelta(minutes=config.pacing.min_spacing_minutes),
            )
        except PaceRefused as exc:
            report.waiting = exc.reason
            break
        tried = _attempt(store, network, config, delivery, draft, now, report)
        if not tried.used_slot:
            store.release_slot(network=network.name, day=day, now=now)
        if not tried.go_on:
            break


def _take_over(store: PublishStore, delivery: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    try:
        return store.move_delivery(
            delivery,
            "APPROVED",
            now=now,
            changes={"ambiguous": True, "retries": int(delivery.get("retries", 0)) + 1},
            remove=["attempt"],
            expect_attempt=delivery["attempt"]["id"],
        )
    except StateConflict:
        return None


def _stop(store: PublishStore, delivery: dict[str, Any], now: datetime, draft: Draft | None) -> None:
    why = f"the draft was {draft.state.value.lower()}" if draft else "the draft is gone"
    with contextlib.suppress(StateConflict):
        store.move_delivery(
            delivery, "FAILED", now=now, changes={"failure": f"not posted: {why}", "stopped": True}
        )


def _post_of(delivery: dict[str, Any], config: Config) -> Post:
    return Post(
        key=f"{delivery['draft_id']}:{delivery['network']}",
        text=str(delivery["text"]),
        link=str(delivery["link"]),
        first_attempt_at=parse_iso(delivery["first_attempt_at"]),
        record_key=delivery.get("record_key"),
        after_ambiguous=bool(delivery.get("ambiguous")),
        lang=config.organisation.language,
        card=Card(
            uri=str(delivery["link"]),
            title=str(delivery.get("title") or ""),
            description=str(delivery.get("summary") or ""),
            image=str(delivery["image"]) if delivery.get("image") else None,
        ),
    )


def final_problems(delivery: dict[str, Any], draft: Draft, config: Config) -> list[str]:
    """`compose.post_problems` on this network's own text and link, with the entities the
    organisation's words for the draft's feed allow."""
    from hookline.compose.entities import allowed_entities, post_problems

    allowed = allowed_entities(config, config.feed(draft.feed_id), draft.partner)
    return post_problems(str(delivery["text"]), link=str(delivery["link"]), allowed=allowed)


def record_key(delivery: dict[str, Any], now: datetime) -> str:
    """A TID of the first attempt's time, made this delivery's own: every delivery of a run
    shares `now`, and a TID's 10 random bits alone give two of them the same key once in 1,024
    pairs; the second would then find the first's record at its key and count it as its post."""
    digest = hashlib.sha256(f"{delivery['draft_id']}:{delivery['network']}".encode()).digest()
    return tid(now + timedelta(microseconds=int.from_bytes(digest[:4], "big") % 1_000_000))


def _attempt(
    store: PublishStore,
    network: Network,
    config: Config,
    delivery: dict[str, Any],
    draft: Draft,
    now: datetime,
    report: NetworkReport,
) -> Tried:
    """One try at one delivery, and whether it used the pace reservation made for it."""
    attempt = {"id": uuid.uuid4().hex, "started_at": iso(now)}
    claim: dict[str, Any] = {"attempt": attempt}
    if not delivery.get("first_attempt_at"):
        # Fixed now and kept for every retry: what lets the network know a retry for the same post.
        claim["first_attempt_at"] = iso(now)
        claim["record_key"] = record_key(delivery, now)
    try:
        claimed = store.move_delivery(delivery, "PUBLISHING", now=now, changes=claim)
    except StateConflict:
        return Tried(go_on=True, used_slot=False)
    draft_id = str(claimed["draft_id"])
    finish = _finisher(store, network.name, claimed, attempt["id"], now)

    problems = final_problems(claimed, draft, config)
    if problems:
        # The same last word X's posts get: this network's rendition took its own path (its own
        # length, its own link), and nothing is posted to any network that mentions, tags or
        # links what the organisation's own words did not add.
        reason = f"not posted to {network.name}: " + "; ".join(dict.fromkeys(problems))
        if finish("FAILED", {"failure": reason[:MAX_REASON], "retries": 0}):
            report.failed.append(draft_id)
        log.error(
            "delivery refused before posting",
            extra={"draft_id": draft_id, "network": network.name, "reason": reason[:MAX_REASON]},
        )
        return Tried(go_on=True, used_slot=False)

    try:
        result = network.post(_post_of(claimed, config))
    except NetworkError as exc:
        # an answer that may hide a post keeps the slot; any other gives it back
        used = isinstance(exc, Ambiguous)
        return Tried(_not_delivered(store, network.name, claimed, now, report, exc, finish), used_slot=used)
    if finish(
        "PUBLISHED",
        {"published_at": iso(now), "post_id": result.post_id, "post_url": result.url, "retries": 0},
        remove=("attempt", "failure"),
    ):
        report.published.append(draft_id)
    # After an ambiguous attempt the network holds one post (its idempotency), for which that
    # attempt's reservation stands: this one is given back.
    return Tried(go_on=True, used_slot=not delivery.get("ambiguous"))


Finish = Callable[..., bool]


def _finisher(
    store: PublishStore, network: str, claimed: dict[str, Any], attempt_id: str, now: datetime
) -> Finish:
    """Records an outcome only while this attempt still holds the delivery."""
    draft_id = str(claimed["draft_id"])

    def finish(to: str, changes: dict[str, Any], remove: tuple[str, ...] = ("attempt",)) -> bool:
        try:
            store.move_delivery(
                claimed, to, now=now, changes=changes, remove=remove, expect_attempt=attempt_id
            )
        except StateConflict:
            log.error("delivery attempt lost its lease", extra={"draft_id": draft_id, "network": network})
            return False
        return True

    return finish


def _not_delivered(
    store: PublishStore,
    network: str,
    claimed: dict[str, Any],
    now: datetime,
    report: NetworkReport,
    exc: NetworkError,
    finish: Finish,
) -> bool:
    """The network's answer when it did not (knowingly) create the post; False stops the network."""
    draft_id = str(claimed["draft_id"])
    if isinstance(exc, (Ambiguous, NotSent)):
        retries = int(claimed.get("retries", 0)) + 1
        ambiguous = bool(claimed.get("ambiguous")) or isinstance(exc, Ambiguous)
        if retries >= MAX_RETRIES:
            if finish(
                "FAILED",
                {
                    "failure": f"{network} failed {retries} times in a row (last: {exc})",
                    "ambiguous": ambiguous,
                    "retries": 0,
                },
            ):
                report.failed.append(draft_id)
            return False
        retry_at = now + RETRY_BACKOFF[min(retries - 1, len(RETRY_BACKOFF) - 1)]
        if finish(
            "APPROVED",
            {"failure": str(exc), "ambiguous": ambiguous, "retries": retries, "not_before": iso(retry_at)},
        ):
            report.retrying.append(draft_id)
        return False
    if isinstance(exc, RateLimited):
        until = exc.reset_at if exc.reset_at and exc.reset_at > now else now + timedelta(minutes=15)
        if finish(
            "APPROVED", {"failure": str(exc), "not_before": iso(min(until, now + timedelta(hours=24)))}
        ):
            report.retrying.append(draft_id)
        return False
    if isinstance(exc, Unauthorized):  # WrongAccount too
        finish("APPROVED", {"failure": str(exc)})
        _hold(store, network, f"{exc}; nothing will be posted to {network} until it is fixed", now)
        report.held = str(exc)
        return False
    # Refused: this post, not the network
    if finish("FAILED", {"failure": f"{network} refused: {exc}", "retries": 0}):
        report.failed.append(draft_id)
    return True


def retry_delivery(store: DeliveryStore, draft_id: str, network: str, *, now: datetime) -> dict[str, Any]:
    """An approver's Retry of one network's FAILED delivery (the others are left as they are)."""
    delivery = store.delivery(draft_id, network)
    if delivery is None or delivery["delivery_state"] != "FAILED" or delivery.get("stopped"):
        raise StateConflict(None, [])
    return store.move_delivery(
        delivery, "APPROVED", now=now, changes={"retries": 0}, remove=["failure", "not_before"]
    )

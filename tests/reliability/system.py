"""hookline wired as the deployed functions wire it (`Services` from environment settings),
on a table of DynamoDB Local, with the facts each scenario checks against.

The truth is never what hookline believes about itself: drafts are counted in the
table, posts on X's timeline (`x_api.created`), emails and SNS messages in what SES
and SNS were sent (`aws.calls`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from hookline.approval.reminders import send_reminders
from hookline.models import Draft, State
from hookline.poll.feeds import parse_feed
from hookline.poll.run import Poller
from hookline.publish.run import PublishReport, in_window, publish_due
from hookline.services import Services
from hookline.settings import read_settings
from hookline.store import Store
from tests.conftest import NOW, SIGNING_KEY, X_SECRET, base_config_data
from tests.support.drafts import make_draft
from tests.support.feeds import Item, rss

TOPIC = "arn:aws:sns:eu-west-2:000000000000:hookline-approvers"
BASE_URL = "https://approve.example.org"
LEASE = timedelta(minutes=5)
APPROVERS = ("alex@example.org", "sam@example.org")


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def wipe(client: Any, table: str) -> None:
    """Empty the table between cases (much faster than a new table in DynamoDB Local)."""
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "pk, sk"}
    keys: list[dict[str, Any]] = []
    while True:
        page = client.scan(**kwargs)
        keys += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for start in range(0, len(keys), 25):
        pending: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def snapshot(client: Any, table: str) -> dict[tuple[str, str], str]:
    """Every item of the table, to compare before and after a request that must change nothing."""
    items: dict[tuple[str, str], str] = {}
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            items[(item["pk"]["S"], item["sk"]["S"])] = json.dumps(item, sort_keys=True)
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def changed(before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]) -> list[str]:
    keys = set(before) | set(after)
    return sorted(f"{pk}/{sk}" for pk, sk in keys if before.get((pk, sk)) != after.get((pk, sk)))


@dataclass
class System:
    """One deployment's worth of hookline on one table; `services()` is a function container."""

    dynamodb: Any  # DynamoDB Local
    table: str
    clock: Any
    workdir: Path
    overrides: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # The scenarios serve linked pages on loopback, as the local stack does; the SSRF
    # scenario turns this off to run as deployed.
    allow_private: bool = True

    def __post_init__(self) -> None:
        self.client = self.dynamodb.client()  # the client of the first container
        self.configure()

    def new_client(self) -> Any:
        """Another container's own DynamoDB client."""
        return self.dynamodb.client()

    def configure(self, **overrides: Any) -> None:
        """Write the config the functions read; a new file per content (configs are cached by path)."""
        self.overrides = overrides
        text = yaml.safe_dump(merge(base_config_data(), overrides))
        path = self.workdir / f"hookline-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
        path.write_text(text, encoding="utf-8")
        self.env = {
            "HOOKLINE_TABLE": self.table,
            "HOOKLINE_CONFIG": str(path),
            "HOOKLINE_SIGNING_KEY": SIGNING_KEY,
            "HOOKLINE_BASE_URL": BASE_URL,
            "HOOKLINE_APPROVERS_TOPIC": TOPIC,
            "HOOKLINE_X_SECRET": X_SECRET,
            "HOOKLINE_PUBLISHER": "x",
            **({"HOOKLINE_ALLOW_PRIVATE_ADDRESSES": "true"} if self.allow_private else {}),
        }

    def services(self, client: Any = None, clock: Any = None) -> Services:
        clock = clock or self.clock
        store = Store(self.table, client=client or self.client, clock=clock)
        return Services(read_settings(self.env), clock=clock, overrides={"store": store})

    def store(self) -> Store:
        return Store(self.table, client=self.client, clock=self.clock)

    def wipe(self) -> None:
        wipe(self.client, self.table)


def poller(s: Services) -> Poller:
    """What functions/poll_feeds builds."""
    return Poller(s.config, s.store, s.fetcher, s.notifier, s.clock)


def publish_run(s: Services, lease: timedelta = LEASE) -> PublishReport:
    """What functions/publish runs: the publish run, then reminders (whose failure is swallowed)."""
    report = publish_due(s.store, s.poster, s.config, s.clock(), lease=lease)
    # The handler logs a reminders failure and carries on: publishing never depends on reminders.
    with contextlib.suppress(Exception):
        send_reminders(s.store, s.notifier, s.config, s.clock())
    return report


def drafts(store: Store) -> list[Draft]:
    return [d for state in State for d in store.drafts_in(state)]


# -- polls: what should have happened --------------------------------------------------------


@dataclass
class Feed:
    """A feed served by the web server, and which of its entries should become drafts."""

    id: str
    path: str
    significant: list[Item] = field(default_factory=list)
    routine: list[Item] = field(default_factory=list)
    history: list[Item] = field(default_factory=list)

    def items(self) -> list[Item]:
        return [*self.significant, *self.routine, *self.history]


@dataclass
class Findings:
    """What one case got wrong, by kind."""

    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    state_changes: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)

    def add(self, other: Findings, prefix: str = "") -> None:
        self.lost += [prefix + x for x in other.lost]
        self.duplicated += [prefix + x for x in other.duplicated]
        self.state_changes += [prefix + x for x in other.state_changes]
        self.unsafe += [prefix + x for x in other.unsafe]
        self.notes.update(other.notes)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.state_changes or self.unsafe)

    def summary(self, limit: int = 15) -> str:
        parts = []
        for name in ("lost", "duplicated", "state_changes", "unsafe"):
            found = getattr(self, name)
            if found:
                parts.append(f"{name} ({len(found)}): " + "; ".join(found[:limit]))
        return "\n".join(parts) or "nothing wrong"


def killed_at_every_point(case: Any) -> tuple[Findings, list[str]]:
    """Run `case(0)` untouched to number the kill points, then `case(at)` killed at each point in
    turn; every case must fire at the point the clean run numbered. Returns what the killed
    cases got wrong, and the points."""
    clean, points, _ = case(0)
    assert clean.clean, clean.summary()
    total = Findings()
    for at in range(1, len(points) + 1):
        found, _, fired = case(at)
        assert fired == points[at - 1], (at, fired, points[at - 1])
        total.add(found, prefix=f"[killed {fired}] ")
    return total, points


def emails(aws: Any) -> Counter[tuple[str, str]]:
    """(approver, draft id) -> how many personal emails were sent."""
    sent: Counter[tuple[str, str]] = Counter()
    for call in aws.of("SendEmail"):
        body = json.dumps(call.params)
        to = call.params["Destination"]["ToAddresses"][0]
        for piece in body.split("/drafts/")[1:]:
            sent[(to, piece.split("?", 1)[0])] += 1
            break
    return sent


def sns_messages(aws: Any) -> Counter[str]:
    sent: Counter[str] = Counter()
    for call in aws.of("Publish"):
        message = call.params.get("Message", "")
        if "/drafts/" in message:
            sent[message.split("/drafts/", 1)[1].split("?", 1)[0]] += 1
    return sent


def check_poll(store: Store, aws: Any, feeds: list[Feed], base_url: str, now: datetime) -> Findings:
    """After the runs: each significant entry exactly one PENDING draft, queued once, every
    approver emailed and the topic told; each routine entry skipped with its reason, never
    drafted; every entry marked seen (the next poll finds nothing new)."""
    found = Findings()
    by_title: dict[str, list[Draft]] = {}
    for draft in drafts(store):
        by_title.setdefault(draft.title, []).append(draft)
    mailed = emails(aws)
    told = sns_messages(aws)
    for feed in feeds:
        for item in feed.significant:
            mine = by_title.get(item.title, [])
            if not mine:
                found.lost.append(f"{feed.id}: '{item.title}' has no draft")
                continue
            if len(mine) > 1:
                found.duplicated.append(f"{feed.id}: '{item.title}' drafted {len(mine)} times")
            draft = mine[0]
            queued = [a for a in store.audit(draft.id) if a.action == "queued"]
            if len(queued) != 1:
                found.duplicated.append(f"{draft.id}: queued {len(queued)} times")
            if draft.state is not State.PENDING:
                found.state_changes.append(f"{draft.id} is {draft.state}, not PENDING")
            for approver in APPROVERS:
                count = mailed.get((approver, draft.id), 0)
                if count == 0:
                    found.lost.append(f"{approver} was never told of {draft.id}")
                elif count > 1:
                    found.notes["duplicate approver emails (at least once, by design)"] += count - 1
            if told.get(draft.id, 0) == 0:
                found.lost.append(f"the approvers' topic was never told of {draft.id}")
        skipped = {s["title"] for s in store.skips(feed.id)}
        for item in feed.routine:
            if item.title in by_title:
                found.state_changes.append(f"{feed.id}: routine '{item.title}' was drafted")
            if item.title not in skipped:
                found.state_changes.append(f"{feed.id}: the skip of '{item.title}' was not recorded")
        body = rss(base_url, feed.items(), now)
        entries = parse_feed(body, feed_id=feed.id, url=base_url + feed.path).entries
        unseen = store.unseen(entries)
        if unseen:
            found.lost += [f"{feed.id}: '{e.title}' is still unseen after the reruns" for e in unseen]
    return found


# -- publishing: what should have happened ---------------------------------------------------


def settle(
    s: Services, *, at_least: int = 1, max_runs: int = 40, step: timedelta = timedelta(minutes=7)
) -> int:
    """Run the publisher on its schedule (at least `at_least` more runs) until no approved or
    publishing draft is left, moving the clock past backoffs, leases, X's limits and the
    publish window. Returns the runs it took."""
    store, config, clock = s.store, s.config, s.clock
    for run in range(1, max_runs + 1):
        if run > at_least and not (store.drafts_in(State.APPROVED) or store.drafts_in(State.PUBLISHING)):
            return run - 1
        clock.advance(seconds=step.total_seconds())
        limit = store.limit_state()
        if limit and limit.until and limit.until > clock.now:
            clock.now = limit.until + timedelta(minutes=1)
        hold = store.hold_state()
        if hold and hold.kind in ("account", "credentials"):
            clock.advance(minutes=15)  # the account is re-checked after a failed check
        while not in_window(config, clock.now):
            clock.advance(minutes=30)
        with contextlib.suppress(Exception):  # a failed run is what the next run recovers from
            publish_run(s)
    return max_runs


def check_published(store: Store, x_api: Any, approved: list[Draft]) -> Findings:
    """Each approved draft on X's timeline exactly once, and recorded as X has it."""
    found = Findings()
    timeline = Counter(x_api.created)
    for text, count in timeline.items():
        if count > 1:
            found.duplicated.append(f"posted {count} times: {text[:60]}")
    for sent in x_api.sent:
        if sent.url.endswith("/2/tweets") and sent.body is not None and set(sent.body) != {"text"}:
            found.unsafe.append(f"a create request carried more than the text: {sorted(sent.body)}")
    for original in approved:
        draft = store.get_draft(original.id)
        on_x = timeline.get(original.text, 0) > 0
        history = [a.action for a in store.audit(original.id)]
        if "published" in history and "publish attempt" in history[history.index("published") :]:
            found.duplicated.append(f"{draft.id} was tried again after it was recorded as published")
        if history.count("published") > 1:
            found.duplicated.append(
                f"{draft.id} was recorded as published {history.count('published')} times"
            )
        if draft.state is State.PUBLISHED:
            if not on_x:
                found.state_changes.append(f"{draft.id} is PUBLISHED but X never created it")
            if draft.post_id is None and not draft.needs_confirmation:
                found.state_changes.append(f"{draft.id} has no post id and is not flagged for confirmation")
        elif draft.state is State.FAILED:
            if not draft.failure:
                found.lost.append(f"{draft.id} FAILED without saying why")
            elif on_x and "reached X" not in (draft.failure or ""):
                found.state_changes.append(f"{draft.id} FAILED but X has it, and the failure does not say so")
            else:
                found.notes["drafts X refused (FAILED, alarm and retry button)"] += 1
        elif not on_x:
            found.lost.append(f"{draft.id} ended {draft.state} and was never posted")
        else:
            found.state_changes.append(f"{draft.id} is {draft.state} though X has it")
    return found


def spend_drift(store: Store, x_api: Any, month: str, price_cents: int = 20) -> int:
    """Cents reserved this month minus what X created (X bills what it posts)."""
    return store.month_spend(month).cents - price_cents * len(x_api.created)


STALE = "stale"


def add_stale_pending(store: Store) -> None:
    """A pending draft past its expiry: a publish run must expire it, whatever else happens."""
    stale = make_draft(NOW - timedelta(days=8), title="Consultation response", identity=STALE, expires_at=NOW)
    assert store.create_draft(stale)


def check_publish_run(
    store: Store, x_api: Any, approved: list[Draft], month: str, *, held_back: str
) -> tuple[Findings, int]:
    """After publish runs over `approved` and add_stale_pending's draft: each approved draft on X
    once, the stale draft expired, and spend never below what X billed. Cents counted over it
    (spend held for an attempt whose answer was lost) are noted as `held_back`, never over the cap.
    Returns the findings and that drift."""
    found = check_published(store, x_api, approved)
    stale = store.find_draft(make_draft(NOW, identity=STALE, title="x").id)
    if stale is None or stale.state is not State.EXPIRED:
        found.state_changes.append("the stale pending draft did not expire")
    drift = spend_drift(store, x_api, month)
    if drift < 0:
        found.state_changes.append(f"spend counted {-drift} cents less than X billed")
    elif drift > 0:
        found.notes[held_back] += drift
    return found, drift


def reset_x(x_api: Any) -> None:
    x_api.script.clear()
    x_api.me_script.clear()
    x_api.sent.clear()
    x_api.created.clear()


def reset_clock(clock: Any, at: datetime = NOW) -> None:
    clock.now = at

"""Forged, tampered, expired, replayed and cross-draft links; mail scanners; fifty decisions at once.

Every request goes to the deployed approvals function as the API Gateway event AWS
sends. Around each one that must change nothing, the whole table is read before and
after: any difference at all is an unintended state change.
"""

from __future__ import annotations

import hashlib
import random
import string
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from itsdangerous import URLSafeTimedSerializer

from hookline.approval.links import DECIDE, QUEUE
from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW, SIGNING_KEY
from tests.reliability.system import Findings, changed, snapshot
from tests.support.containers import approval_containers, send
from tests.support.drafts import add_draft, make_draft, signer
from tests.support.events import api_event, call

AT = NOW + timedelta(minutes=5)
ALEX = "alex@example.org"
SAM = "sam@example.org"
B64 = string.ascii_letters + string.digits + "-_"


@dataclass
class Probe:
    """The approvals function, and a tally of what each request did to the table."""

    env: Any
    found: Findings = field(default_factory=Findings)
    cases: int = 0
    gets: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.handler = self.env.handler("approvals")
        self.store = self.env.store()
        self.client = self.store.client
        self.links = signer(SIGNING_KEY)

    def request(
        self,
        name: str,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        expect: tuple[int, ...],
        changes: bool = False,
    ) -> dict[str, Any]:
        """One request; `expect` the statuses it may get; unless `changes`, the table must not move."""
        before = snapshot(self.client, self.env.table)
        answer = call(self.handler, api_event(method, path, form))
        after = snapshot(self.client, self.env.table)
        self.cases += 1
        self.gets += method == "GET"
        self.statuses[answer["statusCode"]] += 1
        diff = changed(before, after)
        if not changes and diff:
            self.found.state_changes.append(f"{name}: {method} {path[:60]} changed {', '.join(diff[:4])}")
        if answer["statusCode"] not in expect:
            self.found.unsafe.append(f"{name}: {method} got {answer['statusCode']}, expected {expect}")
        if "<script" in answer.get("body", "") and "<script" in path + str(form):
            self.found.unsafe.append(f"{name}: markup from the request came back unescaped")
        return answer


@pytest.fixture
def probe(lambda_env) -> Iterator[Probe]:
    with time_machine.travel(AT, tick=False):
        yield Probe(lambda_env)


def flip(token: str, at: int) -> str:
    """Change one character so its decoded bits really change (the top bit of its sextet)."""
    ch = token[at]
    if ch not in B64:
        return token[:at] + ("A" if ch != "A" else "B") + token[at + 1 :]
    index = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(ch)
    swapped = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[index ^ 0b100000]
    return token[:at] + swapped + token[at + 1 :]


def signed(payload: Any, salt: str, key: str = SIGNING_KEY) -> str:
    return str(
        URLSafeTimedSerializer([key], salt=salt, signer_kwargs={"digest_method": hashlib.sha256}).dumps(
            payload
        )
    )


@pytest.mark.scenario("Forged, tampered, expired, replayed and cross-draft links")
def test_no_bad_link_opens_or_decides_anything(probe, ledger):
    store, links = probe.store, probe.links
    draft = add_draft(store, NOW)
    other = add_draft(store, NOW, identity="other")
    url, other_url = f"/drafts/{draft.id}", f"/drafts/{other.id}"
    good = links.decide_token(draft, ALEX)
    stamp = int(draft.created_at.timestamp() * 1000)
    rng = random.Random(5)

    def refused(name: str, token: str, *, path: str = url, get: bool = True) -> None:
        if get:
            probe.request(name, "GET", f"{path}?token={quote(token)}", expect=(403,))
        probe.request(name, "POST", path, {"token": token, "action": "approve"}, expect=(403,))

    # Forged: made up, signed with another key, or signed for someone who is no approver
    forged = [
        "",
        "x",
        "forged-token",
        "null",
        "undefined",
        "' OR '1'='1",
        "<script>alert(1)</script>",
        "eyJhbGciOiJub25lIn0.eyJkIjoiZCJ9.",
        "A" * 10_000,
        "..",
        ".%2e/%2e%2e",
    ]
    forged += ["".join(rng.choice(B64) for _ in range(rng.randint(20, 120))) for _ in range(10)]
    forged += [
        signer("an-attackers-own-key-0123456789abcdef").decide_token(draft, ALEX),
        signed({"d": draft.id, "a": "mallory@evil.example", "c": stamp}, DECIDE),
        signed({"d": draft.id, "a": ALEX.upper(), "c": str(stamp)}, DECIDE),
        signed({"d": draft.id, "a": ALEX}, DECIDE),  # no creation stamp
        signed([draft.id, ALEX, stamp], DECIDE),
        signed({"a": ALEX}, QUEUE),  # a queue link's token
        signed({"d": draft.id, "a": ALEX, "c": stamp}, "hookline.draft.decide.v0"),
    ]
    for token in forged:
        refused("forged", token)
    # Tampered: one character of a real token changed, anywhere; cut short; lengthened; spliced
    for at in range(0, len(good), 3):
        refused("tampered", flip(good, at), get=at % 2 == 0)
    payload, signature = good.rsplit(".", 1)
    other_payload = links.decide_token(other, ALEX).rsplit(".", 1)[0]
    for token in (
        good[:-1],
        good[:-10],
        good[: len(good) // 2],
        good + "A",
        good + ".x",
        good.swapcase(),
        f"{other_payload}.{signature}",
        f"{payload}.{links.decide_token(other, ALEX).rsplit('.', 1)[1]}",
    ):
        refused("tampered", token)
    # Expired: signed eight days ago (links last seven)
    with time_machine.travel(NOW - timedelta(days=8), tick=False):
        expired = [links.decide_token(draft, ALEX), links.view_token(draft), links.decide_token(draft, SAM)]
    for token in expired:
        refused("expired", token)
    # Cross-draft: another draft's links, a link for an earlier draft with the same id, and a link
    # used for what it was not made for
    refused("cross-draft", links.decide_token(other, ALEX))
    refused("cross-draft", links.view_token(other))
    refused("cross-draft", good, path=other_url)
    refused("cross-draft", links.decide_token(make_draft(NOW - timedelta(days=2)), ALEX))
    probe.request(
        "cross-draft", "POST", url, {"token": links.view_token(draft), "action": "approve"}, expect=(403,)
    )
    probe.request("cross-draft", "GET", f"/queue?token={quote(good)}", expect=(403,))
    for action in ("pause", "resume"):
        probe.request(
            "cross-draft",
            "POST",
            f"/controls/{action}",
            {"token": good, "action": action, "reason": "x"},
            expect=(403,),
        )
    # Replayed: a decision that went through, sent again (the same click, a browser's resubmit,
    # a scanner replaying the POST), and the other approver's late one
    probe.request(
        "the decision", "POST", url, {"token": good, "action": "approve"}, expect=(200,), changes=True
    )
    decided = store.get_draft(draft.id)
    for form in (
        {"token": good, "action": "approve"},
        {"token": good, "action": "reject"},
        {"token": links.decide_token(draft, SAM), "action": "approve"},
        {"token": links.decide_token(draft, SAM), "action": "reject"},
        {"token": good, "action": "retry"},
    ):
        for _ in range(2):
            probe.request("replayed", "POST", url, form, expect=(409,))
    probe.request("replayed", "GET", f"{url}?token={quote(good)}", expect=(200,))
    if [a.action for a in store.audit(draft.id)] != ["queued", "approve"]:
        probe.found.duplicated.append(f"the draft's history is {[a.action for a in store.audit(draft.id)]}")
    if store.get_draft(draft.id).version != decided.version:
        probe.found.state_changes.append("a replay moved the decided draft")

    ledger.record(
        probe.cases,
        probe.found,
        note=f"{probe.cases} requests ({probe.gets} GETs) with {len(forged)} forged tokens, every third character "
        "of a real token flipped, tokens cut, lengthened and spliced, 3 expired links, 8 cross-draft and "
        f"cross-purpose uses, and 10 replays of a decision that stood; answers: "
        + ", ".join(f"{n} x {s}" for s, n in sorted(probe.statuses.items())),
    )
    assert probe.found.clean, probe.found.summary()


@pytest.mark.scenario("Mail scanners: GET, then a form submit without a click")
def test_what_mail_scanners_do_changes_nothing(probe, ledger):
    store, links = probe.store, probe.links
    pending = add_draft(store, NOW)
    approved_draft = add_draft(store, NOW, identity="approved")
    approved_draft = store.transition(
        approved_draft,
        Move(
            State.APPROVED,
            actor="Alex Morgan <alex@example.org>",
            action="approve",
            changes={"decided_by": "Alex Morgan"},
        ),
    )
    failed = add_draft(store, NOW, identity="failed")
    failed = store.transition(failed, Move(State.APPROVED, actor="Alex", action="approve"))
    failed = store.transition(failed, Move(State.PUBLISHING, actor="publisher", action="publish attempt"))
    failed = store.transition(
        failed, Move(State.FAILED, actor="publisher", action="failed", changes={"failure": "403"})
    )
    queue = links.queue_token(ALEX)
    for draft in (pending, approved_draft, failed):
        for who in (ALEX, SAM):
            token = links.decide_token(draft, who)
            path = f"/drafts/{draft.id}"
            # A scanner fetches the link (often more than once, from several addresses)
            for _ in range(3):
                probe.request("scanner GET", "GET", f"{path}?token={quote(token)}", expect=(200,))
            probe.request(
                "scanner GET", "GET", f"{path}?token={quote(links.view_token(draft))}", expect=(200,)
            )
            # and submits the form it found without pressing any button, or with a made-up value
            fields = {"token": token, "text": draft.text, "reason": ""}
            for form in (
                fields,
                {"token": token},
                {**fields, "action": ""},
                {**fields, "action": "Approve"},
                {**fields, "action": "submit"},
                {**fields, "action": "approve "},
                {"text": draft.text, "action": "approve"},
            ):
                probe.request("form submit without a click", "POST", path, form, expect=(400, 403))
    # The queue link and the pause switch, fetched and submitted the same way
    for _ in range(3):
        probe.request("scanner GET", "GET", f"/queue?token={quote(queue)}", expect=(200,))
    for action in ("pause", "resume"):
        for form in (
            {"token": queue, "reason": ""},
            {"token": queue, "reason": "scan"},
            {"token": queue, "action": "", "reason": "scan"},
        ):
            probe.request("form submit without a click", "POST", f"/controls/{action}", form, expect=(400,))
    for path in ("/drafts", "/drafts/", "/controls/pause", "/", "/queue"):
        probe.request("scanner GET", "GET", path, expect=(400, 403, 404, 405))

    ledger.record(
        probe.cases,
        probe.found,
        note=f"{probe.gets} GETs of review, view-only and queue links (pending, approved and failed drafts) and "
        f"{probe.cases - probe.gets} form submits without a button press, each with the whole table read "
        "before and after",
    )
    assert probe.found.clean, probe.found.summary()


# -- fifty at once, in five containers ----------------------------------------------------------

REQUESTS = 50
CONTAINERS = 5


@pytest.mark.scenario("50 concurrent decisions on one draft")
def test_fifty_decisions_at_once_leave_one_decision_and_scanners_at_the_same_time_change_nothing(
    lambda_env, ledger
):
    now = datetime.now(UTC)
    store = lambda_env.store()
    contested = add_draft(store, now)
    scanned = add_draft(store, now, identity="scanned")
    links = signer(SIGNING_KEY)
    # Fifty approvers' presses (two approvers, approve and reject mixed), and at the same moment a
    # scanner fetching and submitting another draft's link fifty times
    decisions = [
        {
            "token": links.decide_token(contested, (ALEX, SAM)[i % 2]),
            "action": "approve" if i % 3 else "reject",
        }
        for i in range(REQUESTS)
    ]
    scan_token = links.decide_token(scanned, ALEX)
    scans: list[dict[str, str] | None] = [
        None if i % 2 else {"token": scan_token, "text": scanned.text} for i in range(REQUESTS)
    ]
    before = snapshot(store.client, lambda_env.table)
    with approval_containers(CONTAINERS) as bases:
        start = threading.Barrier(2 * REQUESTS)

        def press(i: int) -> tuple[str, int, str]:
            start.wait()
            base = bases[i % CONTAINERS]
            if i < REQUESTS:
                return ("decision", *send(f"{base}/drafts/{contested.id}", decisions[i]))
            form = scans[i - REQUESTS]
            path = f"/drafts/{scanned.id}" + ("" if form is not None else f"?token={quote(scan_token)}")
            return ("scan", *send(base + path, form))

        with ThreadPoolExecutor(max_workers=2 * REQUESTS) as pool:
            answers = list(pool.map(press, range(2 * REQUESTS)))

    found = Findings()
    decided = Counter(status for kind, status, _ in answers if kind == "decision")
    scanned_statuses = Counter(status for kind, status, _ in answers if kind == "scan")
    if decided.get(200, 0) != 1:
        found.state_changes.append(f"{decided.get(200, 0)} decisions succeeded, not exactly one")
    if decided.get(409, 0) != REQUESTS - 1:
        found.unsafe.append(f"the others were not all told it was decided: {dict(decided)}")
    actions = [a.action for a in store.audit(contested.id)]
    if len(actions) != 2:
        found.duplicated.append(f"the contested draft's history is {actions}")
    final = store.get_draft(contested.id)
    if final.state not in (State.APPROVED, State.REJECTED):
        found.state_changes.append(f"the contested draft is {final.state}")
    for kind, status, body in answers:
        if kind == "decision" and status == 409 and f"by {final.decided_by}" not in body:
            found.unsafe.append("a 409 did not say who decided first")
            break
    after = snapshot(store.client, lambda_env.table)
    moved = [k for k in changed(before, after) if not k.startswith(f"DRAFT#{contested.id}/")]
    found.state_changes += [f"the scanned draft changed: {k}" for k in moved]
    if set(scanned_statuses) - {200, 400}:
        found.unsafe.append(f"scanner requests got {dict(scanned_statuses)}")

    ledger.record(
        2 * REQUESTS,
        found,
        note=f"{REQUESTS} approve/reject presses from two approvers over {CONTAINERS} function processes at once "
        f"(answers: {dict(sorted(decided.items()))}), and at the same moment {REQUESTS} scanner GETs and "
        f"click-less submits of another draft (answers: {dict(sorted(scanned_statuses.items()))})",
    )
    assert found.clean, found.summary()

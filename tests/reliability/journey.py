"""A week of the organisation's news through the three deployed functions, by their events.

Every path a function has in production is taken at least once: first sight of a feed,
a broken feed, a held feed, new entries drafted and skipped, 304s; the review page,
approve, edit and approve, reject, withdraw, retry, refused links, the queue, pause and
resume, a skip drafted by hand; publishing with X answering well, timing out, rate limiting, refusing and
rejecting the credentials, a dead publisher's attempt taken over, reminders, expiry.

The least-privilege test records which AWS calls each function made on this journey;
the logging test captures everything every function logged on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from hookline.models import State
from hookline.store import Move
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import signer
from tests.support.events import api_event, call, load
from tests.support.feeds import Item, page, rss
from tests.support.publishing import approved

SIGNING_SECRET = "hookline/link-signing-key"
POLL_FUNCTION = "hookline-PollFeedsFunction-AbC123"
ALEX, SAM = "alex@example.org", "sam@example.org"
RESET = str(int((NOW + timedelta(days=2, hours=1)).timestamp()))


@dataclass
class Journey:
    lambda_env: Any
    web: Any
    aws: Any
    x_api: Any
    traveller: Any
    before_call: Callable[[str], None] = lambda name: None
    after_call: Callable[[str], None] = lambda name: None
    tokens: list[str] = field(default_factory=list)  # every link token handed out or used

    def at(self, when: datetime) -> None:
        self.traveller.move_to(when)

    def _invoke(self, name: str, event: dict[str, Any], timeout: float = 30) -> Any:
        self.before_call(name)
        try:
            return call(self.lambda_env.handler(name), event, timeout=timeout)
        finally:
            self.after_call(name)

    def poll(self) -> Any:
        return self._invoke("poll_feeds", load("poll_feeds"), timeout=60)

    def publish(self) -> Any:
        try:
            return self._invoke("publish", load("publish"))
        except Exception as exc:  # a failed run fails the invocation (dead-letter queue); kept
            return exc

    def get(self, path: str) -> Any:
        return self._invoke("approvals", api_event("GET", path))

    def post(self, path: str, form: dict[str, str]) -> Any:
        return self._invoke("approvals", api_event("POST", path, form))

    def links_in_mail(self) -> list[str]:
        """Every link token the notifications carried (emails and SNS messages)."""
        found = []
        for c in self.aws.calls:
            text = json.dumps(c.params)
            found += re.findall(r"token=([A-Za-z0-9_\-.%]+)", text)
        return found


def run(journey: Journey) -> dict[str, Any]:
    env, web, aws, x_api = journey.lambda_env, journey.web, journey.aws, journey.x_api
    store = env.store()
    links = signer(SIGNING_KEY)
    aws.secrets[SIGNING_SECRET] = {"AWSCURRENT": json.dumps({"key": SIGNING_KEY})}
    env.monkeypatch.delenv("HOOKLINE_SIGNING_KEY", raising=False)
    env.monkeypatch.setenv("HOOKLINE_SIGNING_SECRET", SIGNING_SECRET)
    env.monkeypatch.setenv("HOOKLINE_POLL_FUNCTION", POLL_FUNCTION)

    old = Item("Annual report 2025", "annual-2025", age=timedelta(days=40))
    report = Item("New research report: river quality in the Fens", "river-quality")
    second = Item("Research briefing: wetland birds return", "wetland-birds", category="Research")
    third = Item("Report on the new flood defences", "flood-defences")
    fourth = Item("Research note on eel passes", "eel-passes", category="Research")
    minutes = Item("Minutes of the November board meeting", "board-minutes", category="Minutes")
    big_old = [Item(f"Old news {n}", f"old-{n}", age=timedelta(days=30)) for n in range(3)]
    big_new = [Item(f"Research report {n} from the archive", f"archive-{n}") for n in range(6)]
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    for item in (report, second, third, fourth, minutes, old, *big_new):
        web.add(f"/news/{item.slug}", page(item.title))
    web.add("/news.xml", rss(web.base_url, [old], NOW))
    web.add("/big.xml", rss(web.base_url, big_old, NOW))
    env.write_config(
        feeds=[
            {"id": "news", "url": web.url("/news.xml")},
            {"id": "big", "url": web.url("/big.xml")},
            {"id": "broken", "url": web.url("/missing.xml")},
        ],
        polling={"max_new_entries": 5},
    )

    # Wednesday 10:00: first sight of the feeds (baselined; one is broken)
    journey.at(NOW)
    journey.poll()
    # 10:05: new entries (three reports, minutes); the big feed suddenly has six (held)
    web.add("/news.xml", rss(web.base_url, [report, second, third, fourth, minutes, old], NOW))
    web.add("/big.xml", rss(web.base_url, [*big_new, *big_old], NOW))
    journey.at(NOW + timedelta(minutes=5))
    journey.poll()
    journey.at(NOW + timedelta(minutes=10))
    journey.poll()  # nothing new: 304s
    drafted = {d.title: d for d in store.drafts_in(State.PENDING)}
    first, briefing, flood = drafted[report.title], drafted[second.title], drafted[third.title]
    eels = drafted[fourth.title]

    # 10:15: Alex opens the review link and approves; Sam edits and approves the briefing
    journey.at(NOW + timedelta(minutes=15))
    alex = links.decide_token(first, ALEX)
    sam = links.decide_token(briefing, SAM)
    journey.tokens += [alex, sam, links.view_token(first), links.queue_token(ALEX)]
    journey.get(f"/drafts/{first.id}?token={quote(alex)}")
    journey.get(f"/drafts/{first.id}?token={quote(links.view_token(first))}")
    journey.post(f"/drafts/{first.id}", {"token": alex, "action": "approve"})
    journey.post(f"/drafts/{first.id}", {"token": alex, "action": "approve"})  # replayed: 409
    journey.post(f"/drafts/{first.id}", {"token": alex, "text": first.text})  # a scanner: 400
    edited = f"Birds are back on the Ouse wetlands: our briefing {briefing.post_link}"
    journey.post(f"/drafts/{briefing.id}", {"token": sam, "action": "approve", "text": edited})
    eel_token = links.decide_token(eels, SAM)
    journey.tokens.append(eel_token)
    journey.post(f"/drafts/{eels.id}", {"token": eel_token, "action": "reject", "reason": "Too technical"})
    journey.get(f"/drafts/{flood.id}?token=forged-{alex[:20]}")  # 403
    journey.get(f"/drafts/unknown?token={quote(alex)}")  # 404
    queue = links.queue_token(SAM)
    journey.tokens.append(queue)
    journey.get(f"/queue?token={quote(queue)}")
    # Sam has the skipped minutes drafted by hand: the poll function gets the request
    [skip] = [s for s in store.kept_skips() if s["title"] == minutes.title]
    journey.post(f"/skips/news/{skip['key']}", {"token": queue, "action": "draft"})
    journey.post(f"/skips/news/{skip['key']}", {"token": queue, "action": "draft"})  # pressed again: 409
    [invoked] = aws.of("Invoke")
    journey.before_call("poll_feeds")
    try:
        call(env.handler("poll_feeds"), invoked.params["Payload"], timeout=60)
    finally:
        journey.after_call("poll_feeds")
    journey.post("/controls/pause", {"token": queue, "action": "pause", "reason": "Checking a complaint"})

    # 10:20: publishing is paused; then resumed
    journey.at(NOW + timedelta(minutes=20))
    journey.publish()
    journey.post("/controls/resume", {"token": queue, "action": "resume", "reason": "All clear"})
    # A publisher that died mid-attempt yesterday left a draft behind
    dead = approved(store, "Consultation response on abstraction licences", at=NOW - timedelta(days=1))
    store.transition(
        dead,
        Move(
            State.PUBLISHING,
            actor="publisher",
            action="publish attempt",
            changes={"attempt": {"id": "dead", "started_at": (NOW - timedelta(hours=20)).isoformat()}},
        ),
    )

    # 10:25: the publish run takes the dead attempt over and posts the first approved draft;
    # then X times out on the next, rate-limits, refuses one and rejects the credentials once
    x_api.then("ok", "timeout", (429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": RESET}))
    for hours in (0.4, 1.5, 2.6, 3.7):
        journey.at(NOW + timedelta(hours=hours))
        journey.publish()
    # 15:00: the flood report waited past the reminder time: reminders go out
    journey.at(NOW + timedelta(hours=5))
    journey.publish()
    # Friday: X's limit has passed; X refuses the oldest approved draft, and Sam retries it
    journey.at(NOW + timedelta(days=2, hours=2))
    x_api.then(
        (403, {"title": "Forbidden", "detail": "This post violates our rules.", "type": "about:blank"})
    )
    approved(store, "Statement on the reservoir plans", at=NOW - timedelta(days=2))
    journey.publish()
    for failed in store.drafts_in(State.FAILED):
        retry = links.decide_token(failed, SAM)
        journey.tokens.append(retry)
        journey.post(f"/drafts/{failed.id}", {"token": retry, "action": "retry"})
    # and Alex withdraws an approval before it goes out
    withdrawn = approved(store, "Notice of the annual meeting", at=NOW + timedelta(days=2))
    withdraw = links.decide_token(withdrawn, ALEX)
    journey.tokens.append(withdraw)
    journey.post(f"/drafts/{withdrawn.id}", {"token": withdraw, "action": "withdraw"})
    x_api.then((401, {"title": "Unauthorized", "detail": "Unauthorized", "type": "about:blank"}))
    for hours in (3.2, 4.3, 5.4):
        journey.at(NOW + timedelta(days=2, hours=hours))
        journey.publish()
    # A week later: what nobody decided expires
    journey.at(NOW + timedelta(days=8, hours=1))
    journey.poll()
    journey.publish()
    journey.tokens += journey.links_in_mail()
    return {"drafts": {d.id: d.state for state in State for d in store.drafts_in(state)}}

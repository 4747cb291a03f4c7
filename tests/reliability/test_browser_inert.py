"""The hostile payloads that reached drafts, opened in headless Chromium: every page an approver
sees (review pages, the queue, result pages, the notification email) renders them inert.

The drafts are made by polling hostile feeds exactly as the poll function does; the pages
are served by the approvals function behind the local API Gateway bridge with its real
security headers. Each payload, if it ran, would set `window.__xss` and open a dialog.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from hookline.approval.views import TEMPLATES
from hookline.models import State
from local.bridge import Bridge
from tests.conftest import NOW, SIGNING_KEY
from tests.reliability.hostile import TEXT_PAYLOADS, HostileFeed, feed_bytes, hostile_feeds
from tests.reliability.system import Findings, drafts, poller
from tests.support.drafts import signer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AT = NOW + timedelta(minutes=10)
WATCH = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push({directive: e.effectiveDirective, blocked: e.blockedURI});
});
"""
# Anything that could run or load something on its own, and would only be there if feed text
# had become markup.
LIVE = (
    "script, iframe, frame, object, embed, svg, math, img, video, audio, link[rel], style:not(head style), "
    "base, meta[http-equiv='refresh'], [onerror], [onload], [onfocus], [ontoggle], [onclick], "
    "[onmouseover], a[href^='javascript' i], form[action^='javascript' i], body[onload]"
)


# The review page's own script (the shipped file, allowed by its hash): not a payload.
OWN_SCRIPT = (TEMPLATES / "review.js").read_text(encoding="utf-8")
COUNT_LIVE = """([selector, own]) => [...document.querySelectorAll(selector)]
  .filter((e) => !(e.tagName === 'SCRIPT' && e.textContent === own)).length"""


class Watched:
    """One browser tab that records dialogs and CSP violations."""

    def __init__(self, chromium: Any, **options: Any) -> None:
        self.context = chromium.new_context(**options)
        self.context.add_init_script(WATCH)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def verdict(self, baseline: int) -> tuple[bool, int]:
        """(a payload is live, CSP violations recorded)."""
        self.page.wait_for_timeout(60)  # an onerror/onload fires within a tick, if anything is live
        ran = self.page.evaluate("window.__xss") is not None
        live = self.page.evaluate(COUNT_LIVE, [LIVE, OWN_SCRIPT]) > baseline
        violations = len(self.page.evaluate("window.__violations || []"))
        return ran or live or bool(self.dialogs), violations


def hostile_drafts(system: Any, web: Any) -> list[Any]:
    """Poll two hostile feeds (every text payload at least once as a title) into the table."""
    now = system.clock.now
    port = web.server_address[1]
    feeds = hostile_feeds(2, len(TEXT_PAYLOADS), web.base_url, port, seed=3)
    for feed in feeds:
        web.add(
            feed.path, feed_bytes(HostileFeed(feed.id, feed.path, flavour=feed.flavour), web.base_url, now)
        )
    system.configure(
        feeds=[{"id": f.id, "url": web.url(f.path)} for f in feeds],
        polling={"max_new_entries": 100},
    )
    run = poller(system.services())
    run.poll_all()
    for feed in feeds:
        web.add(feed.path, feed_bytes(feed, web.base_url, now))
    system.clock.advance(minutes=5)
    run.poll_all()
    return [d for d in drafts(system.store()) if d.state is State.PENDING]


@pytest.mark.scenario("Hostile payloads rendered in Chromium")
def test_every_hostile_payload_that_reached_a_draft_is_inert_in_every_page(
    system, web, aws, lambda_env, chromium, ledger
):
    # Given the drafts hostile feeds produced
    pending = hostile_drafts(system, web)
    assert len(pending) >= len(TEXT_PAYLOADS), "the hostile feeds should have produced drafts to look at"
    found = Findings()
    pages = violations = 0
    with time_machine.travel(AT, tick=True):
        lock = threading.Lock()
        function = lambda_env.handler("approvals")

        def serve(event: dict[str, Any], context: Any) -> dict[str, Any]:
            with lock:  # one request at a time, as one Lambda container serves them
                return function.lambda_handler(event, context)  # type: ignore[no-any-return]

        bridge = Bridge(serve, port=0).start()
        try:
            lambda_env.monkeypatch.setenv("HOOKLINE_BASE_URL", bridge.base_url)
            lambda_env.write_config()
            links = signer(SIGNING_KEY, base_url=bridge.base_url)
            tab = Watched(chromium, viewport={"width": 1024, "height": 900})
            # (what a clean page has of the watched elements: the page's own, not a payload's)
            tab.page.goto(links.queue_url(links.queue_token("alex@example.org")))
            baseline = tab.page.evaluate(COUNT_LIVE, [LIVE, OWN_SCRIPT])

            def look(name: str, url: str) -> None:
                nonlocal pages, violations
                tab.page.goto(url)
                live, seen = tab.verdict(baseline)
                pages += 1
                violations += seen
                if live:
                    found.unsafe.append(
                        f"{name}: a payload is live ({tab.dialogs[-1:] or 'markup in the page'})"
                    )
                tab.dialogs.clear()

            # When an approver opens each draft's review page
            for n, draft in enumerate(pending):
                look(f"review page of {draft.id}", links.decide_url(draft, "alex@example.org"))
                if n % 4 == 0:  # the view-only page is the same page without its buttons
                    look(f"view-only page of {draft.id}", links.view_url(draft))
            # And the queue that lists them all
            look("queue", links.queue_url(links.queue_token("alex@example.org")))
            # And approves one, edits another with markup of their own, and rejects a third
            for draft, action, edit in (
                (pending[0], "Approve", None),
                (pending[1], "Approve", TEXT_PAYLOADS[0]),
                (pending[2], "Reject", None),
            ):
                tab.page.goto(links.decide_url(draft, "alex@example.org"))
                if edit:
                    tab.page.get_by_label("Edit the words").fill(edit)
                if action == "Reject":  # the reason box comes with the first press
                    tab.page.get_by_role("button", name="Reject", exact=True).click()
                    action = "Reject this post"
                button = tab.page.get_by_role("button", name=action, exact=action != "Approve")
                button.first.click()
                tab.page.wait_for_load_state()
                live, seen = tab.verdict(baseline)
                pages += 1
                violations += seen
                if live:
                    found.unsafe.append(f"the result page after '{action}' on {draft.id} has a live payload")
            tab.context.close()

            # And the notification emails, opened as a mail client without a CSP would show them
            mail = Watched(chromium, java_script_enabled=True)
            for sent in aws.of("SendEmail"):
                html = sent.params["Content"]["Simple"]["Body"]["Html"]["Data"]
                mail.page.set_content(html)
                live, seen = mail.verdict(0)
                pages += 1
                if live:
                    found.unsafe.append("a notification email renders a live payload")
            mail.context.close()
        finally:
            bridge.stop()

    ledger.record(
        pages,
        found,
        note=f"{len(pending)} drafts made by polling 2 hostile feeds ({len(TEXT_PAYLOADS)} payloads each); "
        f"{pages} pages opened in headless Chromium (review and view-only pages, the queue, result pages after "
        "approve, edit-and-approve with markup and reject, and every notification email); dialogs opened, "
        f"scripts run and payload elements found: {len(found.unsafe)}; CSP violations recorded: {violations}",
    )
    assert found.clean, found.summary()

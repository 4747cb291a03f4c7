"""The review page in a real browser (Debian's headless Chromium, driven by Playwright):
an approver edits and approves on a phone, the page passes axe-core's WCAG 2.2 AA rules,
hostile feed text stays inert under the CSP, and a scanner's form submit changes nothing.

Requests reach the approvals function through local/bridge.Bridge, which turns each one
into the API Gateway event AWS would send, as `make demo` serves it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from hookline.models import EventData, State
from hookline.views import security_headers
from local.bridge import Bridge
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import LINK, add_draft, signer
from tests.support.paths import ARTIFACTS, ROOT

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AT = NOW + timedelta(minutes=5)
UNESCAPED = "/__unescaped"

# Each payload, if it ever ran, would set window.__xss and open a dialog.
PAYLOADS = [
    "<script>window.__xss = 'script'; alert('script')</script>",
    "<img src=x onerror=\"window.__xss = 'img'; alert('img')\">",
    "<svg onload=\"window.__xss = 'svg'; alert('svg')\"></svg>",
    "</textarea><script>window.__xss = 'textarea'; alert('textarea')</script>",
    '"><iframe srcdoc="<script>parent.__xss = \'iframe\'</script>"></iframe>',
    "<a id=xss-link href=\"javascript:window.__xss = 'href'\">read more</a>",
]
WATCH_CSP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push({directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample});
});
"""


class Site:
    """The approvals function behind the bridge, its table, and links signed for it."""

    def __init__(self, lambda_env: Any) -> None:
        self.bridge = Bridge(self._serve, port=0)
        lambda_env.monkeypatch.setenv("HOOKLINE_BASE_URL", self.bridge.base_url)
        lambda_env.write_config()
        self.function = lambda_env.handler("approvals")
        self.store = lambda_env.store()
        self.links = signer(SIGNING_KEY, base_url=self.bridge.base_url)
        self.unescaped_html = ""
        # One request at a time, as one Lambda container serves them.
        self._lock = threading.Lock()
        self.bridge.start()

    def _serve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if event["rawPath"] == UNESCAPED:  # what the page would be if escaping ever failed
            return {"statusCode": 200, "headers": security_headers(), "body": self.unescaped_html}
        with self._lock:
            return self.function.lambda_handler(event, context)  # type: ignore[no-any-return]

    def review_url(self, draft: Any, who: str = "alex@example.org") -> str:
        return self.links.decide_url(draft, who)


@pytest.fixture
def site(lambda_env) -> Iterator[Site]:
    with time_machine.travel(AT, tick=True):
        served = Site(lambda_env)
        yield served
        served.bridge.stop()


@pytest.fixture
def phone(chromium) -> Iterator[Any]:
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))  # type: ignore[attr-defined]
    page.console_lines = []  # type: ignore[attr-defined]
    page.on("console", lambda message: page.console_lines.append(message.text))  # type: ignore[attr-defined]
    yield page
    context.close()


def violations(page: Any) -> list[dict[str, str]]:
    return page.evaluate("window.__violations")  # type: ignore[no-any-return]


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)
    return path


def axe_violations(chromium: Any, url: str, *, form: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA findings for a page. axe is a script, so it is injected in a context
    that bypasses the CSP: only for this check, never for the behaviour tests."""
    context = chromium.new_context(viewport=PHONE, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        if form is not None:
            page.locator(f"button[value='{form['action']}']").click()
            page.wait_for_load_state()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_22_AA
        )
        return [
            {"id": v["id"], "help": v["help"], "nodes": [n["html"] for n in v["nodes"]]}
            for v in result["violations"]
        ]
    finally:
        context.close()


# -- an approver on a phone ---------------------------------------------------------------------


def test_an_approver_edits_the_post_approves_it_and_sees_when_it_goes_out(site, phone):
    # Given a draft waiting for approval, and Alex's personal link to it
    draft = add_draft(site.store, NOW)

    # When Alex opens the link on a phone
    response = phone.goto(site.review_url(draft))
    assert response.status == 200
    assert phone.title() == "Review post · hookline"
    assert phone.get_by_role("heading", level=1).inner_text() == "Review post for @TweepyDev"
    assert f"{draft.weighted_length}/280" in phone.locator(".count").inner_text()

    # And edits the text and presses Approve
    edited = f"Three years of data: how clean are the Fens' rivers? {draft.post_link}"
    phone.get_by_label("Edit the post (optional)").fill(edited)
    shot(phone, "review-page.png")
    phone.get_by_role("button", name="Approve").click()
    phone.wait_for_load_state()

    # Then the result page says it is approved and when it should go out
    assert phone.get_by_role("heading", level=1).inner_text() == "Approved"
    status = phone.get_by_role("status").first.inner_text()
    assert "It is expected to go out at about Wed 25 Nov, 10:05 GMT." in status
    assert "Three years of data: how clean are the Fens' rivers?" in phone.locator(".post .text").inner_text()
    assert phone.get_by_role("button", name="Withdraw approval").is_visible()
    shot(phone, "result-page.png")

    # And the edited text is what will be posted, with Alex's name on the approval
    stored = site.store.get_draft(draft.id)
    assert (stored.state, stored.text, stored.decided_by) == (State.APPROVED, edited, "Alex Morgan")
    # And the page's own style ran under the CSP without a single violation
    assert violations(phone) == []
    assert phone.dialogs == []


def test_the_page_fits_a_phone_without_sideways_scrolling(site, phone):
    long_word = "Supercalifragilisticexpialidocious" * 3
    draft = add_draft(site.store, NOW, title=f"Report {long_word}", text=f"Report {long_word} {LINK}")
    phone.goto(site.review_url(draft))
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for button in ("Approve", "Reject"):
        box = phone.get_by_role("button", name=button).bounding_box()
        assert box["height"] >= 44  # comfortably above WCAG 2.2's 24 px target size
        assert box["width"] >= 44


# -- accessibility ------------------------------------------------------------------------------


def test_every_page_an_approver_sees_passes_axe_core_wcag_22_aa(site, chromium):
    # Given a draft with an event, link-check warnings and history, and one refused by X
    draft = add_draft(
        site.store,
        NOW,
        kind="event",
        event=EventData(start=NOW + timedelta(days=2), venue="Ely Cathedral"),
        preflight={
            "checks": [
                {"ok": True, "message": "the page answers 200 OK"},
                {"ok": False, "message": "no og:image"},
            ]
        },
    )
    failed = add_draft(site.store, NOW, identity="failed")
    failed = site.store.transition(
        failed,
        State.APPROVED,
        actor="Alex Morgan <alex@example.org>",
        action="approve",
        changes={"decided_by": "Alex Morgan"},
    )
    failed = site.store.transition(failed, State.PUBLISHING, actor="publisher", action="publish attempt")
    site.store.transition(
        failed,
        State.FAILED,
        actor="publisher",
        action="failed",
        changes={"failure": "403 Forbidden: duplicate content"},
    )
    site.store.set_pause(True, by="Sam Patel <sam@example.org>", reason="Flood warning", now=NOW)

    pages = {
        "review": (site.review_url(draft), None),
        "view-only review": (site.links.view_url(draft), None),
        "failed": (site.review_url(failed), None),
        "result": (site.review_url(draft), {"action": "approve"}),
        "queue": (site.links.queue_url(site.links.queue_token("alex@example.org")), None),
        "403": (f"{site.bridge.base_url}/drafts/{draft.id}?token=forged", None),
        "404": (f"{site.bridge.base_url}/nowhere", None),
    }
    # Then axe-core finds no WCAG 2.2 AA violation on any of them
    found = {name: axe_violations(chromium, url, form=form) for name, (url, form) in pages.items()}
    assert found == {name: [] for name in pages}, json.dumps(found, indent=1)


# -- hostile feed text --------------------------------------------------------------------------


def hostile_draft(site: Site) -> Any:
    joined = " ".join(PAYLOADS)
    return add_draft(
        site.store,
        NOW,
        title=f"Report {joined}",
        text=f"Report {PAYLOADS[0]} {LINK}",
        summary=f"Summary {joined}",
        categories=PAYLOADS[:2],
        reason=f"category {PAYLOADS[1]} matched",
        kind="event",
        event=EventData(start=NOW + timedelta(days=3), venue=PAYLOADS[2]),
        preflight={"checks": [{"ok": False, "message": f"title is {PAYLOADS[3]}"}]},
    )


def test_xss_payloads_in_feed_text_render_as_inert_text(site, phone):
    # Given a draft whose feed title, summary, categories and venue carry real XSS payloads
    draft = hostile_draft(site)

    # When an approver opens it in Chromium
    phone.goto(site.review_url(draft))
    phone.wait_for_timeout(300)  # time for an onerror or onload to fire, if anything were live

    # Then no script ran, no dialog opened, and the payloads are plain text on the page
    assert phone.evaluate("window.__xss") is None
    assert phone.dialogs == []
    assert phone.locator("script, iframe, svg, img, #xss-link").count() == 0
    assert PAYLOADS[0] in phone.locator(".post .text").inner_text()
    assert PAYLOADS[2] in phone.locator("main").inner_text()
    # and the textarea still holds the whole post (the </textarea> in the title did not close it)
    assert phone.get_by_label("Edit the post (optional)").input_value() == draft.text
    assert violations(phone) == []


def test_if_escaping_ever_failed_the_csp_would_still_stop_every_payload(site, phone, chromium):
    # Given the review page as it would be if the template forgot to escape (payloads as raw HTML),
    # served with the real security headers
    draft = hostile_draft(site)
    phone.goto(site.review_url(draft))
    page_html = phone.content()
    site.unescaped_html = page_html.replace("</main>", "".join(PAYLOADS) + "</main>")

    # When Chromium loads it with the CSP enforced
    phone.goto(site.bridge.base_url + UNESCAPED)
    phone.wait_for_timeout(300)
    phone.locator("#xss-link").click()
    phone.wait_for_timeout(200)

    # Then nothing ran and no dialog opened; the browser reported each blocked attempt
    assert phone.evaluate("window.__xss") is None
    assert phone.dialogs == []
    blocked = {v["directive"] for v in violations(phone)}
    assert {"script-src-elem", "script-src-attr"} <= blocked
    assert any("Content Security Policy" in line for line in phone.console_lines)

    # And the same page without the CSP does run them: the payloads are live, the CSP is what stops them
    context = chromium.new_context(bypass_csp=True)
    try:
        unsafe = context.new_page()
        unsafe.on("dialog", lambda dialog: dialog.dismiss())
        unsafe.goto(site.bridge.base_url + UNESCAPED)
        unsafe.wait_for_timeout(300)
        assert unsafe.evaluate("window.__xss") is not None
    finally:
        context.close()


# -- what a mail scanner does -------------------------------------------------------------------


@pytest.mark.parametrize("submit", ["form.submit()", "form.requestSubmit()"])
def test_a_scanner_that_fetches_the_link_and_submits_the_form_changes_nothing(site, phone, submit):
    # Given a pending draft, its link fetched by a mail scanner
    draft = add_draft(site.store, NOW)
    phone.goto(site.review_url(draft))

    # When the scanner submits the form it found, without clicking any button
    with phone.expect_navigation():
        phone.evaluate(f"() => {{ const form = document.querySelector('form.decide'); {submit}; }}")

    # Then it is told nothing was decided, and the draft is untouched
    assert phone.get_by_role("heading", level=1).inner_text() == "Nothing was changed"
    assert "the form arrived without a button press" in phone.locator("main").inner_text()
    stored = site.store.get_draft(draft.id)
    assert (stored.state, stored.version) == (State.PENDING, draft.version)
    assert [a.action for a in site.store.audit(draft.id)] == ["queued"]


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("forged-token", "This link is not valid."),
        ("other-draft", "This link is for a different draft."),
        ("expired", "This link has expired."),
    ],
)
def test_a_bad_link_opens_a_clear_403_page(site, phone, token, message):
    draft = add_draft(site.store, NOW)
    other = add_draft(site.store, NOW, identity="other")
    if token == "other-draft":
        token = site.links.decide_token(other, "alex@example.org")
    elif token == "expired":
        with time_machine.travel(NOW - timedelta(days=8), tick=False):
            token = site.links.decide_token(draft, "alex@example.org")
    from urllib.parse import quote

    response = phone.goto(f"{site.bridge.base_url}/drafts/{draft.id}?token={quote(token)}")
    assert response.status == 403
    assert phone.get_by_role("heading", level=1).inner_text() == "This link cannot be used"
    assert message in phone.get_by_role("alert").inner_text()
    assert phone.get_by_role("button").count() == 0

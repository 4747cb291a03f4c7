"""The review page in a real browser (Debian's headless Chromium, driven by Playwright):
an approver edits and approves on a phone, the page passes axe-core's WCAG 2.2 AA rules,
hostile feed text stays inert under the CSP, and a scanner's form submit changes nothing.

Requests reach the approvals function through local/bridge.Bridge, which turns each one
into the API Gateway event AWS would send, as `make demo` serves it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from playwright.sync_api import expect

from hookline import weighted_length
from hookline.approval.views import TEMPLATES, security_headers, usd
from hookline.models import EventData, State
from hookline.store import Move
from local.bridge import Bridge
from tests.conftest import NOW, SIGNING_KEY
from tests.support.drafts import LINK, add_draft, signer
from tests.support.events import call, load
from tests.support.paths import ARTIFACTS, ROOT
from tests.support.x import RECORDED_ME

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# The organisation's own handle, as a deployment configures it (the recorded X cassettes are
# another account's, so the page must show what the configuration says).
CONFIGURED = "ExampleTrust"
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
        lambda_env.write_config(account={"handle": CONFIGURED, "user_id": RECORDED_ME["id"]})
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


def shot(page: Any, name: str, *, full_page: bool = True, folder: Path = ARTIFACTS) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
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
            page.locator(f"button[value='{form['action']}']").first.click()
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


def first_screen(page: Any, *locators: Any) -> dict[str, float]:
    """How far down each element ends, at the top of the page, for those that end below the screen."""
    page.evaluate("window.scrollTo(0, 0)")
    height = page.viewport_size["height"]
    below = {}
    for name, locator in locators:
        box = locator.bounding_box()
        if box is None or box["y"] + box["height"] > height:
            below[name] = box["y"] + box["height"] if box else -1
    return below


def decision_parts(page: Any) -> list[tuple[str, Any]]:
    summary = page.locator("dl.summary")
    return [
        ("post", page.locator("#preview-x")),
        ("destination", page.locator(".destination")),
        ("account", summary.locator("dd").nth(0)),
        ("cost", summary.locator("dd").nth(1)),
        ("button", page.locator("button[value='approve']")),
    ]


def summary_of(page: Any) -> dict[str, str]:
    names = page.locator("dl.summary dt").all_inner_texts()
    values = page.locator("dl.summary dd").all_inner_texts()
    return {name: " ".join(value.split()) for name, value in zip(names, values, strict=True)}


def test_an_approver_edits_the_words_sees_the_exact_post_live_and_x_is_sent_it_byte_for_byte(
    site, phone, x_api, lambda_env
):
    # Given a draft waiting for approval on the configured corporate account, @ExampleTrust
    x_api.username = CONFIGURED
    draft = add_draft(site.store, NOW)

    # When Alex opens the personal link on a phone
    response = phone.goto(site.review_url(draft))
    assert response.status == 200
    assert phone.title() == "Review post · hookline"
    assert phone.get_by_role("link", name="All posts waiting").is_visible()
    # Then the first screen holds the post, where its link goes, the account, the cost and the button
    assert first_screen(phone, *decision_parts(phone)) == {}
    preview = phone.locator("#preview-x")
    assert preview.text_content() == draft.text
    assert phone.locator(".destination a").get_attribute("href") == draft.post_link
    assert phone.locator(".destination .host").inner_text() == "www.example.org"
    left = phone.locator("#left-x")
    assert left.inner_text() == f"{280 - weighted_length(draft.text)} characters left"

    # And as Alex rewrites the words, the preview and the count follow keystroke by keystroke
    words = "Three years of data: how clean are the Fens\u2019 rivers?"
    box = phone.get_by_label("Edit the words")
    box.fill("")
    box.press_sequentially(words[:12])  # "Three years ": the space is collapsed, as the server does
    assert preview.text_content() == f"{words[:11]} {draft.post_link}"
    box.fill(words)
    assert preview.text_content() == f"{words} {draft.post_link}"
    assert left.inner_text() == f"{280 - weighted_length(f'{words} {draft.post_link}')} characters left"
    shown = summary_of(phone)
    label = phone.locator("button[value='approve']").inner_text()
    shot(phone, "review-page.png", full_page=False)
    if os.environ.get("HOOKLINE_UPDATE_DOCS"):  # `make screenshots`: the README's picture
        shot(phone, "review-page.png", full_page=False, folder=ROOT / "docs")
    # (an emoji counts 2 as X weighs it, in the page's count as on the server)
    words += " \U0001f30a"
    box.fill(words)
    expected = f"{words} {draft.post_link}"
    assert preview.text_content() == expected
    assert left.inner_text() == f"{280 - weighted_length(expected)} characters left"
    assert violations(phone) == []

    # When Alex presses the button, which says what it does
    assert label == "Approve and post to X ($0.20)"
    phone.get_by_role("button", name=label).click()
    phone.wait_for_load_state()
    assert phone.get_by_role("heading", level=1).inner_text() == "Approved"
    status = phone.get_by_role("status").first.inner_text()
    assert "Posting now: it goes out within seconds." in status  # its approval starts the publisher
    assert phone.get_by_role("link", name="Open this draft again").is_visible()
    assert phone.locator("#preview-x").text_content() == expected
    shot(phone, "result-page.png")

    # And the scheduled publish run comes by
    summary = call(lambda_env.handler("publish"), load("publish"))

    # Then X was sent exactly the preview, byte for byte, from the account the page named
    [sent] = [s for s in x_api.sent if s.url.endswith("/2/tweets")]
    assert sent.body["text"].encode() == expected.encode()
    assert shown["Posts as"] == f"@{x_api.username} on X"
    # and every figure above the button is what publishing did: the price charged, the month's spend
    assert summary["published"] == 1
    assert shown["Cost"] == (
        f"{usd(summary['spend_cents'])} for this post. This month so far: $0.00 of the $20.00 cap (0 posts)."
    )
    month = site.store.month_spend("2026-11")
    assert (month.cents, month.posts) == (summary["spend_cents"], 1)
    assert shown["Link check"] == "OK: all 2 checks pass."
    stored = site.store.get_draft(draft.id)
    assert (stored.state, stored.text, stored.decided_by) == (State.PUBLISHED, expected, "Alex Morgan")
    # and the page after says so with the new month's figure
    phone.goto(site.review_url(draft))
    after = summary_of(phone)
    assert "This month so far: $0.20 of the $20.00 cap (1 post)." in after["Cost"]
    assert phone.locator("#preview-x").text_content() == expected
    assert "Edited by Alex Morgan at Wed 25 Nov 2026, 10:05 GMT" in phone.locator(".edited").inner_text()
    assert phone.dialogs == []


def test_on_a_desktop_screen_the_decision_is_in_view_and_the_layout_holds(site, chromium):
    draft = add_draft(
        site.store, NOW, kind="event", event=EventData(start=NOW + timedelta(days=2), venue="Ely Cathedral")
    )
    context = chromium.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(site.review_url(draft))
        assert first_screen(page, *decision_parts(page)) == {}
        shown = summary_of(page)
        assert list(shown) == ["Posts as", "Cost", "Link check", "When", "Where"]
        assert shown["Where"] == "Ely Cathedral"
        assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
    finally:
        context.close()


def test_the_reason_box_appears_only_once_reject_is_pressed(site, phone):
    draft = add_draft(site.store, NOW)
    phone.goto(site.review_url(draft))
    reason = phone.get_by_label("Why reject it? (optional; the team sees it in the history)")
    assert not reason.is_visible()

    phone.get_by_role("button", name="Reject", exact=True).click()
    assert reason.is_visible()
    expect(reason).to_be_focused()
    reason.fill("Covered last week")
    reason.press("Enter")  # Enter in the reason box rejects: it never approves
    phone.wait_for_load_state()
    assert phone.get_by_role("heading", level=1).inner_text() == "Rejected"
    stored = site.store.get_draft(draft.id)
    assert (stored.state, site.store.audit(draft.id)[-1].reason) == (State.REJECTED, "Covered last week")


def test_without_script_the_page_still_previews_counts_and_rejects_in_two_steps(site, chromium):
    draft = add_draft(site.store, NOW)
    context = chromium.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(site.review_url(draft))
        assert page.locator("#preview-x").text_content() == draft.text
        assert page.locator("#left-x").inner_text() == f"{280 - draft.weighted_length} characters left"
        reason = page.get_by_label("Why reject it? (optional; the team sees it in the history)")
        assert not reason.is_visible()

        # Reject is a second step: the page comes back asking why
        page.get_by_role("button", name="Reject", exact=True).click()
        page.wait_for_load_state()
        assert reason.is_visible()
        assert site.store.get_draft(draft.id).state is State.PENDING
        reason.fill("Old news")
        page.get_by_role("button", name="Reject this post").click()
        page.wait_for_load_state()
        assert site.store.get_draft(draft.id).state is State.REJECTED

        # And an edit without script is counted and previewed by the server when it is refused
        other = add_draft(site.store, NOW, identity="other")
        page.goto(site.review_url(other))
        page.get_by_label("Edit the words").fill("A" * 260)
        page.get_by_role("button", name="Approve and post to X ($0.20)").click()
        page.wait_for_load_state()
        assert "Shorten it by 4." in page.get_by_role("alert").inner_text()
        assert page.locator("#left-x").inner_text() == "4 characters too many"
        assert page.locator("#preview-x").text_content() == f"{'A' * 260} {other.post_link}"
    finally:
        context.close()


def test_the_page_fits_a_phone_without_sideways_scrolling(site, phone):
    long_word = "Supercalifragilisticexpialidocious" * 3
    draft = add_draft(site.store, NOW, title=f"Report {long_word}", text=f"Report {long_word} {LINK}")
    phone.goto(site.review_url(draft))
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for button in ("Approve and post to X ($0.20)", "Reject"):
        box = phone.get_by_role("button", name=button, exact=True).bounding_box()
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
        Move(
            State.APPROVED,
            actor="Alex Morgan <alex@example.org>",
            action="approve",
            changes={"decided_by": "Alex Morgan"},
        ),
    )
    failed = site.store.transition(
        failed, Move(State.PUBLISHING, actor="publisher", action="publish attempt")
    )
    site.store.transition(
        failed,
        Move(
            State.FAILED,
            actor="publisher",
            action="failed",
            changes={"failure": "403 Forbidden: duplicate content"},
        ),
    )
    site.store.set_pause(True, by="Sam Patel <sam@example.org>", reason="Flood warning", now=NOW)

    pages = {
        "review": (site.review_url(draft), None),
        "view-only review": (site.links.view_url(draft), None),
        "failed": (site.review_url(failed), None),
        "result": (site.review_url(draft), {"action": "approve"}),
        "reject step": (
            site.review_url(add_draft(site.store, NOW, identity="to-reject")),
            {"action": "reject"},
        ),
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
    assert phone.locator("iframe, svg, img, #xss-link").count() == 0
    own = (TEMPLATES / "review.js").read_text(encoding="utf-8")
    assert phone.eval_on_selector_all("script", "all => all.map(s => s.textContent)") == [own]
    assert PAYLOADS[0] in phone.locator(".post .text").inner_text()
    assert PAYLOADS[2] in phone.locator("main").inner_text()
    # and the textarea still holds the whole post (the </textarea> in the title did not close it)
    assert phone.get_by_label("Edit the words").input_value() == draft.text.split(f" {draft.post_link}")[0]
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

"""The review page as HTML: hostile feed text stays text, nothing loads from elsewhere."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from markupsafe import escape

from hookline.approval.review import Approvals
from hookline.approval.views import TEMPLATES, security_headers
from hookline.models import EventData
from tests.conftest import NOW, SIGNING_KEY, make_config
from tests.support.drafts import LINK, add_draft, signer

# Real payloads from XSS cheat sheets, each aimed at a different place in the page.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "</textarea><script>alert(document.domain)</script>",
    "'><iframe srcdoc='<script>alert(1)</script>'>",
    '<a href="javascript:alert(1)">click</a>',
    "<style>@import 'https://evil.example/x.css';</style>",
    "<meta http-equiv=refresh content='0;url=https://evil.example'>",
    "<base href='https://evil.example/'>",
]


@pytest.fixture
def page(store, clock):
    def render(**fields):
        draft = add_draft(store, NOW, **fields)
        links = signer(SIGNING_KEY)
        return Approvals(make_config(), store, links, clock).review(
            draft.id, links.decide_token(draft, "alex@example.org")
        )

    return render


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_feed_text_is_escaped_everywhere_it_appears(page, payload):
    # Given a draft whose every feed-supplied field carries the payload
    shown = page(
        title=f"Report {payload}",
        text=f"Report {payload} {LINK}",
        summary=f"Summary {payload}",
        categories=[f"Cat {payload}"],
        reason=f"category {payload} matched",
        kind="event",
        event=EventData(start=NOW + timedelta(days=3), venue=f"Hall {payload}"),
        preflight={
            "checks": [{"ok": False, "message": f"page title is {payload}"}],
            "final_url": f"https://x/{payload}",
        },
    ).html

    # Then none of it is markup: each field shows the payload as text (escaped), never as a tag
    assert payload not in shown
    assert str(escape(payload)) in shown
    own = f"<script>{(TEMPLATES / 'review.js').read_text(encoding='utf-8')}</script>"
    assert shown.count(own) == 1  # the page's own script, once: no other script is there
    lowered = shown.replace(own, "").lower()
    for tag in (
        "<script",
        "<img",
        "<svg",
        "<iframe",
        "<meta http",
        "<base",
        '<a href="javascript',
        "<style>@",
    ):
        assert tag not in lowered


def test_template_syntax_in_feed_text_is_shown_not_evaluated(page):
    shown = page(title="Report {{7*7}} {% if true %}x{% endif %}").html
    assert "Report {{7*7}} {% if true %}x{% endif %}" in shown
    assert "Report 49" not in shown


def test_a_non_web_link_is_shown_as_text_never_as_a_link(page):
    shown = page(link="javascript:alert(1)").html
    assert 'href="javascript:' not in shown
    assert "javascript:alert(1)" in shown


def test_the_destination_host_is_drawn_plainly_beside_the_shortened_link(page):
    # Given a post whose link X shows cut to 23 characters
    link = "https://reports.partner-example.org/2026/very/long/path/to/the/report"
    shown = page(link=link, post_link=link, text=f"Partner report {link}").html
    # Then the approver reads where it really goes, not only its first 23 characters
    assert re.search(
        r'The link goes to <a href="[^"]+" rel="[^"]+">https://<strong class="host">reports.partner-example.org</strong>/2026/',
        shown,
    )


def test_the_page_loads_nothing_from_anywhere(page):
    shown = page().html
    # no external scripts, stylesheets, images, fonts or frames: only the inline, hashed style and
    # the page's own inline script
    assert re.findall(r"<script[^>]*>", shown) == ["<script>"]
    assert not re.search(r"<(link|img|iframe|object|embed|video|audio|source)\b", shown)
    assert re.findall(r"<style>", shown) == ["<style>"]
    assert "url(" not in shown
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in shown
    assert '<html lang="en">' in shown


def test_the_inline_style_is_the_one_the_csp_allows(page):
    import base64
    import hashlib

    shown = page().html
    css = re.search(r"<style>(.*?)</style>", shown, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in security_headers()["Content-Security-Policy"]


def test_the_page_says_the_link_counts_23_only_when_x_counts_it_as_a_link(page):
    # A link on a real domain: X counts it 23, whatever its length
    shown = page().html
    assert "characters left (as X counts, of 280; the link counts 23)" in re.sub(r"<[^>]+>", "", shown)

    # A link to an IP address is not a link to X's counter: every character counts, and the
    # page says so rather than claiming 23
    raw = "http://127.0.0.1:8080/news/river-quality?utm_source=x&utm_medium=social&utm_campaign=hookline"
    text = f"New research report: river quality in the Fens {raw}"
    shown = page(identity="raw-ip", post_link=raw, text=text).html
    left = int(re.search(r'data-left aria-live="polite">(\d+) characters left', shown).group(1))
    assert left == 280 - len(text)  # X's weighted length: no 23 here
    assert "(the link counts 23)" not in shown
    assert "X does not see a link in this post, so every character of it counts)" in shown


@pytest.mark.parametrize(
    ("waited", "shown"),
    [
        (timedelta(seconds=30), "under 2 minutes"),
        (timedelta(seconds=100), "1 minute"),
        (timedelta(minutes=5), "5 minutes"),
        (timedelta(minutes=95), "1 hour"),
        (timedelta(hours=5), "5 hours"),
        (timedelta(days=3), "3 days"),
    ],
)
def test_the_waiting_banner_counts_in_words_a_person_would_use(page, clock, waited, shown):
    # Given a draft made `waited` before the approver opens it
    clock.now = NOW + waited
    html = page().html
    # Then the banner says how long it has waited, singular when it is one
    assert re.search(r"Waiting for a decision since [^(]+\(" + re.escape(shown) + r"\)", html), html


def test_a_link_the_guard_refused_shows_as_a_warning_on_the_review_page(page, guarded):
    from zoneinfo import ZoneInfo

    from hookline.poll.fetch import Fetcher
    from hookline.poll.linkcheck import LinkChecker

    # Given a partner's entry whose link points at the Lambda runtime API, pre-flighted as the poll does
    link = "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next"
    check = LinkChecker(Fetcher(), ZoneInfo("Europe/London")).check(link)

    # When an approver opens its draft
    shown = page(link=link, preflight=check.as_json()).html

    # Then the page says, as a warning, that the link was not fetched
    assert (
        '<span class="mark">Warning:</span> The link points at an internal address '
        "(127.0.0.1: loopback) and was not fetched." in shown
    )


def test_the_first_post_of_the_month_is_one_post_not_one_posts(page, store):
    # Given one post already out this month (as the publisher records it)
    store.client.update_item(
        TableName=store.table,
        Key={"pk": {"S": "PACE#2026-11"}, "sk": {"S": "MONTH"}},
        UpdateExpression="ADD cents :c, posts :one",
        ExpressionAttributeValues={":c": {"N": "20"}, ":one": {"N": "1"}},
    )
    assert "This month so far: $0.20 of the $20.00 cap (1 post).\n" in page().html


def test_the_inline_script_is_the_one_the_csp_allows_and_carries_no_feed_text(page):
    import base64
    import hashlib

    shown = page(title="Report </script><script>alert(1)</script>").html
    [script] = re.findall(r"<script>(.*?)</script>", shown, re.S)
    # the script is the shipped file, byte for byte: feed text never reaches it
    assert script == (TEMPLATES / "review.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in security_headers()["Content-Security-Policy"]


def test_the_live_counter_setup_is_an_escaped_attribute(page):
    import html as html_lib
    import json

    link = "https://www.example.org/a?b=1&c=2"
    shown = page(post_link=link, text=f'Report "quoted" <b>bold</b> {link} #Tag').html
    raw = re.search(r'data-rendition="([^"]*)"', shown).group(1)
    setup = json.loads(html_lib.unescape(raw))
    assert setup == {"head": "", "tail": f" {link} #Tag", "limit": 280, "fixed": 29, "counting": "x-weighted"}


def test_every_configured_network_shows_its_own_post_count_and_price(store, clock):
    # Given X, Bluesky and Mastodon configured, and a draft composed for each
    from hookline.config import parse_config
    from tests.conftest import base_config_data

    data = base_config_data()
    data["accounts"] = {
        "x": data.pop("account"),
        "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:" + "a" * 24},
        "mastodon": {"server": "https://mastodon.example", "account_id": "1090", "acct": "exampletrust"},
    }
    config = parse_config(data)
    sky = LINK.replace("utm_source=x", "utm_source=bluesky")
    toot = LINK.replace("utm_source=x", "utm_source=mastodon")
    draft = add_draft(
        store,
        NOW,
        networks={
            "bluesky": {"text": f"Fens rivers report 🌊 {sky}", "link": sky, "length": 0, "limit": 300},
            "mastodon": {"text": f"Fens rivers report, for Mastodon {toot}", "link": toot, "limit": 500},
        },
    )
    links = signer(SIGNING_KEY)
    body = (
        Approvals(config, store, links, clock)
        .review(draft.id, links.decide_token(draft, "alex@example.org"))
        .html
    )

    # Then each network's own text is shown under its own heading, as it will be sent
    for name in ("X", "Bluesky", "Mastodon"):
        assert f"This will be posted on {name}</h2>" in body
    assert f">Fens rivers report 🌊 {escape(sky)}</p>" in body
    assert f">Fens rivers report, for Mastodon {escape(toot)}</p>" in body
    # each counted as its network counts, against its own limit: Bluesky counts the whole URL
    # in graphemes (the wave is one), Mastodon counts the URL as 23
    sky_left = 300 - (len("Fens rivers report 🌊 ") + len(sky))
    toot_left = 500 - (len("Fens rivers report, for Mastodon ") + 23)
    assert (
        f'{sky_left} characters left</span> <span id="fixed-bluesky">(as Bluesky counts, of 300; '
        "the whole link counts)" in body
    )
    assert (
        f'{toot_left} characters left</span> <span id="fixed-mastodon">(as Mastodon counts, of 500; '
        "the link counts 23)" in body
    )
    # the accounts and the price: X's $0.20, the others nothing
    assert "<strong>@example-trust.bsky.social</strong> on Bluesky" in body
    assert "<strong>@exampletrust@mastodon.example</strong> on Mastodon" in body
    assert 'value="approve">Approve and post to X, Bluesky, Mastodon ($0.20)</button>' in body
    # and each network's words are an edit box of their own (an edit of X's does not change the others)
    assert body.count("<textarea") == 3
    for field in ("hook", "hook_bluesky", "hook_mastodon"):
        assert f'name="{field}" data-hook' in body
    assert "an edit of the words for X does not change it" in body

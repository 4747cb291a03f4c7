"""The final check every post passes, in compose and again just before posting: exactly one
link (the entry's own), and no mention, cashtag or hashtag the organisation did not add.

X's own reading of the text is the judge: the entities come from hookline's X-entity parser
(twitter-text-parser's URL extractor with X's mention, cashtag and hashtag rules), checked
against X's conformance cases in test_length.py and here.
"""

from __future__ import annotations

from typing import Any

import pytest

from hookline.compose import compose
from hookline.compose.entities import (
    allowed_entities,
    final_check,
    link_refusal,
    post_problems,
    x_entities,
    x_hashtags,
)
from hookline.compose.measure import ComposeError
from hookline.models import Entry
from tests.compose.test_length import cases
from tests.conftest import NOW, make_config
from tests.support.injection import injected_links

PARTNER = {
    "id": "rivers",
    "url": "https://www.riverstrust.org.uk/feed",
    "source": "partner",
    "partner": "Rivers Trust",
}
OWN = {"id": "news", "url": "https://www.example.org/news/feed"}


def config(**extra: Any) -> Any:
    return make_config(feeds=[OWN, PARTNER], **extra)


@pytest.mark.parametrize("case", cases("hashtags"))
def test_hashtags_are_found_as_x_finds_them(case: dict[str, Any]) -> None:
    assert (x_hashtags(case["text"]) == [case["text"][1:]]) is case["expected"]


def test_there_are_more_than_fifty_injected_link_forms() -> None:
    assert len(injected_links("www.riverstrust.org.uk")) >= 50


@pytest.mark.parametrize("link", injected_links("www.riverstrust.org.uk"))
def test_a_partner_link_never_puts_an_entity_into_the_post(link: str) -> None:
    # Given a partner entry whose link was built to smuggle an entity into the post
    cfg = config()
    entry = Entry(feed_id="rivers", identity=link, title="River quality in the Fens, 2026", link=link)
    # When it is composed
    refused: ComposeError | None = None
    try:
        composed = compose(entry, cfg.feeds[1], cfg, NOW)
    except ComposeError as exc:
        refused = exc
    if refused is not None:
        # Then either it is refused, with a reason that names the link's problem
        assert "link" in str(refused)
        return
    # Or the post, read as X reads it, has one entity: the link, whole and the entry's own
    assert [(kind, value) for _, _, kind, value in x_entities(composed.text)] == [("url", composed.link)]
    assert composed.text == f"From Rivers Trust: River quality in the Fens, 2026 {composed.link}"


@pytest.mark.parametrize(
    ("link", "why"),
    [
        ("http://@someone @partner-host/report", "a user name (@) before its host"),
        ("https://user:pw@www.riverstrust.org.uk/r", "a user name (@) before its host"),
        ("https://www.riverstrust.org.uk /r", "a space in its host"),
        ("https://www.riverstrust.org.uk\u202e/r", "control or direction-changing characters in its host"),
        ("https://www.riverstrust.org.uk\x07/r", "control or direction-changing characters in its host"),
    ],
)
def test_a_link_whose_host_part_is_not_a_plain_host_is_refused_with_the_reason(link: str, why: str) -> None:
    refusal = link_refusal(link)
    assert refusal is not None and why in refusal
    cfg = config()
    with pytest.raises(ComposeError, match="refused"):
        compose(
            Entry(feed_id="rivers", identity=link, title="River report", link=link), cfg.feeds[1], cfg, NOW
        )


def test_the_organisations_own_words_may_mention_and_tag() -> None:
    # Given a template and a hashtag map that mention and tag on purpose
    cfg = make_config(
        feeds=[{**PARTNER, "partner": "@RiversTrust"}],
        compose={
            "templates": {"partner_publication": "New from {partner} via @OurOrg: {hook} {link}"},
            "hashtags": {"Water": "#water"},
        },
    )
    entry = Entry(
        feed_id="rivers",
        identity="x",
        title="Why #water and #Fishing matter, says @someone",
        link="https://www.riverstrust.org.uk/r",
        categories=("Water",),
    )
    text = compose(entry, cfg.feeds[0], cfg, NOW).text
    # Then the organisation's mentions and hashtag stay, and the feed's own entities do not
    assert text == (
        "New from @RiversTrust via @OurOrg: Why #water and Fishing matter, says someone "
        "https://www.riverstrust.org.uk/r"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Report https://www.example.org/r @someone", "mention @someone"),
        ("Report https://www.example.org/r $TSLA", "cashtag $TSLA"),
        ("Report https://www.example.org/r #breaking", "hashtag #breaking"),
        ("Report https://www.example.org/r https://evil.com/x", "links to https://evil.com/x"),
        ("Report www.evil.com https://www.example.org/r", "links to www.evil.com"),
        ("Report with no link", "exactly once (it does 0 times)"),
        ("Report https://www.example.org/r https://www.example.org/r", "exactly once (it does 2 times)"),
    ],
)
def test_the_final_check_names_everything_the_organisation_did_not_add(text: str, problem: str) -> None:
    allowed = allowed_entities(config(), config().feeds[0])
    problems = post_problems(text, link="https://www.example.org/r", allowed=allowed)
    assert any(problem in p for p in problems), problems
    with pytest.raises(ComposeError):
        final_check(text, link="https://www.example.org/r", allowed=allowed)


def test_a_bare_site_name_x_also_links_is_a_name_not_a_second_link() -> None:
    allowed = allowed_entities(config(), config().feeds[0])
    assert (
        post_problems(
            "Amazon.com opens in the Fens https://www.example.org/r",
            link="https://www.example.org/r",
            allowed=allowed,
        )
        == []
    )


def test_a_local_link_x_does_not_link_still_passes_but_a_mention_in_it_does_not() -> None:
    # The local stack's links are on 127.0.0.1, which X never links: the text is the link
    link = "http://127.0.0.1:3000/news/a"
    assert post_problems(f"Report {link}", link=link, allowed=frozenset()) == []
    assert post_problems(f"Report {link}/@someone", link=f"{link}/@someone", allowed=frozenset()) != []


def test_a_feed_trusted_with_its_mentions_keeps_them_but_still_links_once() -> None:
    cfg = make_config(feeds=[{**OWN, "neutralise_mentions": False}])
    assert allowed_entities(cfg, cfg.feeds[0]) is None
    entry = Entry(
        feed_id="news", identity="x", title="Thanks @partner for the data", link="https://www.example.org/r"
    )
    assert "@partner" in compose(entry, cfg.feeds[0], cfg, NOW).text


@pytest.mark.parametrize("mention", ["@attacker@evil.example", "＠attacker@evil.example"])
def test_a_fediverse_mention_x_would_not_link_is_still_refused_for_mastodon(mention):
    # "@user@server" is no mention to X's parser, and a mention to Mastodon's
    link = "https://www.example.org/r"
    problems = post_problems(f"Report out, thanks {mention} {link}", link=link, allowed=frozenset())
    assert problems == [
        "the post would carry the mention @attacker@evil.example, which the organisation's template did not add"
    ]
    # while the same words inside the entry's own link are part of the link
    inside = "https://www.example.org/r/@attacker@evil.example"
    assert post_problems(f"Report out {inside}", link=inside, allowed=frozenset()) == []

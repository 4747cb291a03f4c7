"""The Bluesky link card is the linked page's own: its og:title, og:description and og:image,
kept by the poll's link pre-flight, carried on the draft, and posted to a real PDS
(tests/support/pds.py) with the image, fetched through the guarded client, as the thumb."""

from __future__ import annotations

from typing import Any

import pytest

from hookline.config import Config, parse_config
from hookline.models import Draft, State
from hookline.poll.fetch import Fetcher, FetchLimits
from hookline.poll.run import Poller
from hookline.publish.delivery import publish_networks
from hookline.publish.networks.bluesky import COLLECTION, THUMB_MAX_BYTES, BlueskyNetwork, TableSessions
from hookline.store import Move, Store
from local.webserver import Resource, WebServer
from tests.conftest import Clock, base_config_data
from tests.poll.test_poll import Notified, serve
from tests.publish.test_bluesky import png
from tests.support.feeds import Item

HANDLE = "card-desk.test"
REPORT = Item("Research report: river quality in the Fens", "river-quality")
OLD = Item("Research report: an older one", "older-report")
# The page's own words, as a partner writes them: entities, markup, a direction override.
PAGE = (
    "<!doctype html><html><head><title>River quality</title>"
    '<meta property="og:title" content="River quality in the Fens &amp; beyond">'
    '<meta property="og:description" content="Three years of <b>weekly</b> sampling\u202e, in one report.">'
    '<meta property="og:image" content="/images/{image}">'
    "</head><body></body></html>"
)


def bluesky_config(web: WebServer, pds: Any) -> Config:
    data = base_config_data()
    data.pop("account")
    data["accounts"] = {"bluesky": {"handle": HANDLE, "did": pds.account(HANDLE).did, "service": pds.url}}
    data["feeds"] = [{"id": "news", "url": web.url("/news.xml")}]
    return parse_config(data)


def polled_draft(web: WebServer, store: Store, clock: Clock, config: Config, image: str) -> Draft:
    poll = Poller(config, store, Fetcher.for_polling(config.polling), Notified(), clock)
    serve(web, "/news.xml", [OLD], clock)
    poll.poll_all()
    clock.advance(minutes=5)
    serve(web, "/news.xml", [REPORT, OLD], clock)
    web.add(f"/news/{REPORT.slug}", PAGE.replace("{image}", image), content_type="text/html")
    assert poll.poll_all().drafted == 1
    [draft] = store.drafts_in(State.PENDING)
    return draft


def publish(store: Store, clock: Clock, config: Config, pds: Any, draft: Draft) -> dict[str, Any]:
    store.transition(draft, Move(State.APPROVED, actor="alex@example.org", action="approve"))
    network = BlueskyNetwork(
        config.accounts.bluesky,  # type: ignore[arg-type]
        lambda: pds.account(HANDLE).app_password,
        TableSessions(store),
        fetcher=Fetcher(FetchLimits(max_bytes=THUMB_MAX_BYTES + 1)),
        clock=clock,
    )
    report = publish_networks(store, {"bluesky": network}, config, clock())
    assert report["bluesky"].published == [draft.id]
    delivery = store.deliveries_of(draft.id)["bluesky"]
    record: dict[str, Any] = pds.xrpc(
        "com.atproto.repo.getRecord",
        query={"repo": pds.account(HANDLE).did, "collection": COLLECTION, "rkey": delivery["record_key"]},
    )
    return record["value"]


def test_the_card_is_the_pages_own_title_description_and_image(
    web: WebServer, store: Store, clock: Clock, pds
):
    # Given a report whose page has og tags and a small PNG at a relative og:image
    image = png(4, 3)
    web.add("/images/card.png", Resource(body=image, content_type="image/png"))
    config = bluesky_config(web, pds)

    # When it is polled, the draft keeps the page's card: plain text, and the image made absolute
    draft = polled_draft(web, store, clock, config, "card.png")
    assert (draft.preflight or {})["card"] == {
        "title": "River quality in the Fens & beyond",
        "description": "Three years of weekly sampling, in one report.",
        "image": web.url("/images/card.png"),
    }

    # And when it is approved and published to the PDS
    record = publish(store, clock, config, pds, draft)

    # Then the record's card carries the page's title, description and the image as its thumb
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    external = record["embed"]["external"]
    assert external["uri"] == draft.networks["bluesky"]["link"]
    assert (external["title"], external["description"]) == (
        "River quality in the Fens & beyond",
        "Three years of weekly sampling, in one report.",
    )
    thumb = external["thumb"]
    assert (thumb["$type"], thumb["mimeType"], thumb["size"]) == ("blob", "image/png", len(image))


@pytest.mark.parametrize(
    ("name", "body", "content_type"),
    [("card.gif", b"GIF89a" + b"\x00" * 40, "image/gif"), ("big.png", png(pad=THUMB_MAX_BYTES), "image/png")],
    ids=["gif", "over-976KB"],
)
def test_an_image_that_cannot_be_a_thumb_gives_the_pages_card_without_one(
    web: WebServer, store: Store, clock: Clock, pds, name: str, body: bytes, content_type: str
) -> None:
    # Given a page whose og:image is a GIF, or a PNG over Bluesky's 976 KB
    web.add(f"/images/{name}", Resource(body=body, content_type=content_type))
    config = bluesky_config(web, pds)
    draft = polled_draft(web, store, clock, config, name)

    # When it is approved and published
    external = publish(store, clock, config, pds, draft)["embed"]["external"]

    # Then the card has the page's words but no thumb, and the post still went
    assert external["title"] == "River quality in the Fens & beyond"
    assert "thumb" not in external


@pytest.mark.parametrize(
    ("image", "kept"),
    [
        ("javascript:alert(1)", None),
        ("data:image/png;base64,iVBORw0KGgo=", None),
        ("ftp://files.example.org/card.png", None),
        ("//cdn.example.org/card.png", "https://cdn.example.org/card.png"),
        ("../img/card.png?v=2", "https://www.example.org/img/card.png?v=2"),
        ("https://cdn.example.org/a b.png", None),
        ("https://cdn.example.org:notaport/card.png", None),
        ("https://cdn.example.org/" + "x" * 2100, None),
    ],
)
def test_the_cards_image_is_kept_only_as_an_absolute_http_url(image: str, kept: str | None) -> None:
    from hookline.poll.page import card_of

    card = card_of({"og:title": "A title", "og:image": image}, "https://www.example.org/news/report")

    assert card is not None and card.get("image") == kept


def test_the_cards_words_are_capped_and_a_page_without_card_tags_has_none() -> None:
    from hookline.poll.page import MAX_CARD_DESCRIPTION, MAX_CARD_TITLE, card_of

    card = card_of({"og:title": "word " * 200, "description": "long " * 1000}, "https://www.example.org/")

    assert card is not None
    assert len(card["title"]) <= MAX_CARD_TITLE and card["title"].endswith("…")
    assert len(card["description"]) <= MAX_CARD_DESCRIPTION
    assert card_of({"viewport": "width=device-width"}, "https://www.example.org/") is None

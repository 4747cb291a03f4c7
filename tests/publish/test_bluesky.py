"""The Bluesky adapter against a real PDS on loopback (@atproto/dev-env, see tests/support/pds.py).

Every post is read back with com.atproto.repo.getRecord and checked field by field: text, the
link facet's UTF-8 byte offsets, the card and its thumb blob.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import urllib3
from urllib3.exceptions import ReadTimeoutError

from hookline.config import BlueskyAccount
from hookline.poll.fetch import Fetcher, FetchLimits
from hookline.publish.networks.bluesky import (
    COLLECTION,
    THUMB_MAX_BYTES,
    BlueskyNetwork,
    TableSessions,
    link_facets,
    tid,
)
from hookline.publish.networks.port import Ambiguous, Card, Network, Post, WrongAccount, guard
from local.webserver import Resource

LINK = "https://www.example.org/news/café-reopens?utm_source=bluesky"
# Accents, an em dash and an emoji before the link: characters and UTF-8 bytes part ways.
TEXT = f"Le café rouvre — après 2 ans 🎉 {LINK}"


def png(width: int = 2, height: int = 2, pad: int = 0) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    extra = chunk(b"tEXt", b"pad\x00" + b"x" * pad) if pad else b""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + extra
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


class Sessions:
    """Where the adapter keeps its tokens, for the adapter-only tests (the table in production)."""

    def __init__(self) -> None:
        self.saved: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return self.saved

    def save(self, session: dict[str, Any]) -> None:
        self.saved = dict(session)


class LoseAnswer:
    """The real transport, except that the answer to the next putRecord is lost after the PDS acted."""

    def __init__(self) -> None:
        self.real = urllib3.PoolManager(retries=False)
        self.lose = 0
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.sent.append((method, url.split("/xrpc/")[-1].split("?")[0]))
        resp = self.real.request(method, url, **kwargs)
        if self.lose and url.endswith("com.atproto.repo.putRecord"):
            self.lose -= 1
            resp.read()
            raise ReadTimeoutError(None, url, "Read timed out.")  # type: ignore[arg-type]
        return resp


def account_for(pds, handle: str, *, did: str | None = None) -> BlueskyAccount:
    made = pds.account(handle)
    return BlueskyAccount(handle=handle, did=did or made.did, service=pds.url)


def network(pds, handle="news-desk.test", *, clock=None, sessions=None, http=None, fetcher=None, did=None):
    account = account_for(pds, handle, did=did)
    return BlueskyNetwork(
        account,
        lambda: pds.account(handle).app_password,
        sessions if sessions is not None else Sessions(),
        http=http,
        fetcher=fetcher,
        clock=clock or (lambda: datetime.now(UTC)),
    )


def delivery(first: datetime | None = None, **kw: Any) -> Post:
    first = first or datetime.now(UTC)
    values: dict[str, Any] = {
        "key": "draft-1:bluesky",
        "text": TEXT,
        "link": LINK,
        "first_attempt_at": first,
        "record_key": tid(first),
        "lang": "fr",
    }
    return Post(**(values | kw))


def get_record(pds, did: str, rkey: str) -> dict[str, Any]:
    return pds.xrpc("com.atproto.repo.getRecord", query={"repo": did, "collection": COLLECTION, "rkey": rkey})


def test_a_tid_is_13_sortable_characters_of_the_time():
    early, late = datetime(2026, 12, 3, 9, tzinfo=UTC), datetime(2026, 12, 3, 9, 0, 1, tzinfo=UTC)
    a, b = tid(early, 5), tid(late, 5)
    assert len(a) == len(b) == 13 and a < b
    assert a[0] in "234567abcdefghij"  # the top bit is 0
    assert tid(early, 5) == a  # the same moment and clock id: the same key


def test_the_link_facet_counts_utf8_bytes_not_characters():
    [facet] = link_facets(TEXT, LINK)
    start = facet["index"]["byteStart"]
    assert start == len(TEXT[: TEXT.index(LINK)].encode())
    assert start != TEXT.index(LINK)  # characters would be wrong here
    assert TEXT.encode()[start : facet["index"]["byteEnd"]].decode() == LINK


def test_a_post_with_its_facet_and_card_reads_back_field_by_field(pds, web):
    # Given the page's image, a small PNG, and the card from the link pre-flight
    image = png()
    web.add("/card.png", Resource(body=image, content_type="image/png"))
    card = Card(
        uri=LINK, title="Le café rouvre", description="Après deux ans de travaux.", image=web.url("/card.png")
    )
    net = network(pds, fetcher=Fetcher(FetchLimits(max_bytes=THUMB_MAX_BYTES)))
    assert isinstance(net, Network) and net.name == "bluesky"
    post = delivery(card=card)

    # When it is posted
    posted = net.post(post)

    # Then the record at the delivery's key is exactly the post
    me = pds.account("news-desk.test")
    got = get_record(pds, me.did, post.record_key)
    assert got["uri"] == posted.post_id == f"at://{me.did}/{COLLECTION}/{post.record_key}"
    assert posted.url == f"https://bsky.app/profile/news-desk.test/post/{post.record_key}"
    record = got["value"]
    assert record["text"] == TEXT
    assert record["langs"] == ["fr"]
    assert record["createdAt"].startswith(post.first_attempt_at.strftime("%Y-%m-%dT%H:%M:%S."))
    # And the link is a facet over exactly its UTF-8 bytes
    [facet] = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert TEXT.encode()[start:end] == LINK.encode()
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": LINK}]
    # And the card carries the pre-flight's title and description, and the image as its thumb
    external = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert (external["uri"], external["title"], external["description"]) == (
        LINK,
        "Le café rouvre",
        "Après deux ans de travaux.",
    )
    thumb = external["thumb"]
    assert (thumb["$type"], thumb["mimeType"], thumb["size"]) == ("blob", "image/png", len(image))
    # And the blob the PDS keeps is the image, byte for byte
    blob = urllib3.PoolManager().request(
        "GET", f"{pds.url}/xrpc/com.atproto.sync.getBlob?did={me.did}&cid={thumb['ref']['$link']}"
    )
    assert blob.data == image


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"GIF89a" + b"\x00" * 40, "image/gif"),
        (png(pad=THUMB_MAX_BYTES), "image/png"),
        (b"<html>", "image/png"),
    ],
    ids=["gif", "over-976KB", "not-an-image"],
)
def test_an_image_that_cannot_be_the_thumb_leaves_a_card_without_one(pds, web, body, content_type):
    web.add("/image", Resource(body=body, content_type=content_type))
    net = network(pds, fetcher=Fetcher(FetchLimits(max_bytes=THUMB_MAX_BYTES + 1)))
    post = delivery(card=Card(uri=LINK, title="Le café rouvre", image=web.url("/image")))

    net.post(post)

    external = get_record(pds, pds.account("news-desk.test").did, post.record_key)["value"]["embed"][
        "external"
    ]
    assert "thumb" not in external
    assert external["title"] == "Le café rouvre"


def test_a_retry_after_a_lost_answer_leaves_exactly_one_record(pds):
    # Given a putRecord the PDS carried out, whose answer was lost (a read timeout)
    http = LoseAnswer()
    http.lose = 1
    net = network(pds, "retry-desk.test", http=http)
    post = delivery(key="draft-2:bluesky")
    with pytest.raises(Ambiguous):
        net.post(post)

    # When the publisher tries the same delivery again (same key, same createdAt)
    posted = net.post(post)

    # Then the repeat was a no-op: one record, at the delivery's key
    did = pds.account("retry-desk.test").did
    records = pds.records(did)
    assert [r["uri"] for r in records] == [posted.post_id]
    assert records[0]["value"]["text"] == TEXT

    # And even a retry whose record differs (say the thumb could not be fetched this time)
    # finds the post already at its key rather than making a second one
    again = net.post(
        delivery(
            key="draft-2:bluesky",
            first_attempt_at=post.first_attempt_at,
            record_key=post.record_key,
            text=TEXT + " !",
        )
    )
    assert again.post_id == posted.post_id
    assert len(pds.records(did)) == 1
    # And a lookup after the ambiguous attempt finds it too
    assert net.lookup(post).post_id == posted.post_id


def test_a_session_of_another_account_is_refused_by_the_guard(pds):
    # Given the configured account's DID, but a handle (and app password) now serving another
    # account: handles move, DIDs do not
    ours = pds.account("news-desk.test")
    net = network(pds, "other-desk.test", did=ours.did)

    # When the guard runs before the first post
    with pytest.raises(WrongAccount) as caught:
        guard(net, net.account.did, net.account.bare_handle)

    # Then it names the account the session belongs to, and nothing was posted anywhere
    other = pds.account("other-desk.test")
    assert caught.value.seen.user_id == other.did
    assert other.did in str(caught.value) and ours.did in str(caught.value)
    assert pds.records(other.did) == []


def test_a_day_of_runs_logs_in_once_and_renews_the_session_instead(pds, store):
    # Given a publisher run every 5 minutes for a day, each a fresh container reading the session
    # it keeps in the table
    handle = "daily-desk.test"
    start = datetime.now(UTC)
    now = [start]
    sessions = TableSessions(store)
    runs: list[BlueskyNetwork] = []
    for _ in range(24 * 12):
        net = network(pds, handle, clock=lambda: now[0], sessions=sessions)
        assert net.whoami().user_id == pds.account(handle).did  # the guard's getSession, every run
        runs.append(net)
        now[0] += timedelta(minutes=5)

    # Then it logged in once (createSession is limited per account) and renewed the access token
    # with refreshSession about every two hours
    assert sum(r.logins for r in runs) == 1
    assert 10 <= sum(r.refreshes for r in runs) <= 14

    # When the kept session is revoked on the server (both tokens refused from then on)
    session = sessions.load()
    pds.xrpc("com.atproto.server.deleteSession", token=session["refreshJwt"], method="POST")
    for _ in range(3 * 12):
        net = network(pds, handle, clock=lambda: now[0], sessions=sessions)
        net.whoami()
        runs.append(net)
        now[0] += timedelta(minutes=5)

    # Then it logged in once more, and only once
    assert sum(r.logins for r in runs) == 2


def test_a_thumb_at_an_internal_address_is_never_fetched_as_deployed(pds, web, guarded):
    # Given the deployed setting (links from feeds may not reach internal addresses), and a
    # card whose image is on loopback
    web.add("/card.png", Resource(body=png(), content_type="image/png"))
    net = network(pds, fetcher=Fetcher(FetchLimits(max_bytes=THUMB_MAX_BYTES)))
    post = delivery(card=Card(uri=LINK, title="Le café rouvre", image=web.url("/card.png")))

    # When the post is made
    net.post(post)

    # Then the image was not requested, and the card went without a thumb
    assert web.requests_for("/card.png") == []
    external = get_record(pds, pds.account("news-desk.test").did, post.record_key)["value"]["embed"][
        "external"
    ]
    assert "thumb" not in external

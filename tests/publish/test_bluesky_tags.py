"""The organisation's hashtags are tags on Bluesky: each with its own `#tag` facet at UTF-8 byte
offsets, as the link has its own (without one, Bluesky shows a hashtag as plain text)."""

from __future__ import annotations

from hookline.publish.networks.bluesky import hashtag_facets
from tests.publish.test_bluesky import LINK, delivery, get_record, network

TAGGED = f"Le café rouvre — après 2 ans 🎉 #Café #NetZero {LINK}#top"


def test_each_hashtag_is_a_tag_facet_over_its_utf8_bytes_and_none_is_taken_from_the_link():
    facets = hashtag_facets(TAGGED, LINK + "#top")
    assert [f["features"] for f in facets] == [
        [{"$type": "app.bsky.richtext.facet#tag", "tag": "Café"}],
        [{"$type": "app.bsky.richtext.facet#tag", "tag": "NetZero"}],
    ]
    spans = [TAGGED.encode()[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in facets]
    assert spans == ["#Café", "#NetZero"]
    # Not a tag: a number, a # inside a word, and nothing at all in plain text
    assert hashtag_facets("Item #2 of C# notes, see issue#12", "") == []


def test_a_post_with_the_organisations_hashtags_reads_back_with_its_tag_facets(pds):
    # Given a post carrying two of the organisation's hashtags before its link
    text = f"Le café rouvre — après 2 ans 🎉 #Café #NetZero {LINK}"
    net = network(pds, "tags-desk.test")
    post = delivery(key="draft-tags:bluesky", text=text)

    # When it is posted
    net.post(post)

    # Then the record has the link's facet and one tag facet per hashtag, over exactly its bytes
    record = get_record(pds, pds.account("tags-desk.test").did, post.record_key)["value"]
    by_type = {f["features"][0]["$type"]: [] for f in record["facets"]}
    for facet in record["facets"]:
        (feature,) = facet["features"]
        span = text.encode()[facet["index"]["byteStart"] : facet["index"]["byteEnd"]].decode()
        by_type[feature["$type"]].append((span, feature.get("tag") or feature.get("uri")))
    assert by_type == {
        "app.bsky.richtext.facet#link": [(LINK, LINK)],
        "app.bsky.richtext.facet#tag": [("#Café", "Café"), ("#NetZero", "NetZero")],
    }

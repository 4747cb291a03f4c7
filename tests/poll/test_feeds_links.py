"""Every entry keeps its link, whatever order its elements come in.

The fixtures in tests/fixtures/realworld/ are written in the shapes real publishers use
(GitHub commits, YouTube channels, Blogger, WordPress, Drupal, GOV.UK search feeds, a CMS
with urn:uuid ids). Each is read as written and with every entry's id/guid moved before and
after its links: the link a reader would follow must come out the same every time.

The expected link is read from the fixture with a plain pattern (the rel="alternate" HTML
link of an Atom entry, the <link> of an RSS item), not with feedparser.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from hookline.ops.cli import main
from hookline.poll.feeds import parse_feed
from tests.support.paths import ROOT

FIXTURES = Path(__file__).parent.parent / "fixtures" / "realworld"
SHAPES = sorted(p.name for p in FIXTURES.iterdir())
BLOCK = re.compile(r"<(entry|item)>(.*?)</\1>", re.S)
ID = re.compile(r"\s*<(id|guid)\b[^>]*>.*?</\1>", re.S)


def reordered(body: str, where: str) -> str:
    """The feed with each entry's id/guid moved to the start or the end of the entry."""

    def move(m: re.Match[str]) -> str:
        inner = m.group(2)
        found = ID.search(inner)
        if found is None:
            return m.group(0)
        rest = inner[: found.start()] + inner[found.end() :]
        element = found.group(0).strip()
        inner = element + rest if where == "first" else rest + element
        return f"<{m.group(1)}>{inner}</{m.group(1)}>"

    return BLOCK.sub(move, body)


def expected_links(body: str) -> list[str]:
    links = []
    for m in BLOCK.finditer(body):
        inner = m.group(2)
        if m.group(1) == "item":
            links.append(re.search(r"<link>(.*?)</link>", inner).group(1))  # type: ignore[union-attr]
            continue
        for tag in re.findall(r"<link\b[^>]*>", inner):
            rel = re.search(r"""rel=['"]([^'"]+)""", tag)
            kind = re.search(r"""type=['"]([^'"]+)""", tag)
            if (rel is None or rel.group(1) == "alternate") and (
                kind is None or kind.group(1) == "text/html"
            ):
                links.append(re.search(r"""href=['"]([^'"]+)""", tag).group(1))  # type: ignore[union-attr]
                break
    return links


def links_of(body: str, name: str) -> list[str]:
    parsed = parse_feed(body.encode(), feed_id="f", url=f"https://feeds.example.net/{name}")
    return [e.link for e in parsed.entries]


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("order", ["as written", "first", "last"])
def test_every_entry_keeps_its_link_whatever_the_element_order(name: str, order: str) -> None:
    # Given a feed in a real publisher's shape, with its ids before or after its links
    original = (FIXTURES / name).read_text()
    body = original if order == "as written" else reordered(original, order)
    # When it is read
    links = links_of(body, name)
    # Then every entry has the link a reader would follow: the alternate page, never a
    # comments page, an enclosure, or the id
    assert links == expected_links(original)
    assert len(links) >= 2


@pytest.mark.parametrize("name", SHAPES)
def test_the_two_reorderings_really_put_the_id_on_either_side_of_the_links(name: str) -> None:
    original = (FIXTURES / name).read_text()
    first, last = reordered(original, "first"), reordered(original, "last")
    for m in BLOCK.finditer(first):
        assert re.match(r"<(id|guid)\b", m.group(2))
    for m in BLOCK.finditer(last):
        assert re.search(r"</(id|guid)>$", m.group(2))


def test_the_github_commits_fixture_has_tag_ids_before_links_as_github_writes_them() -> None:
    body = (FIXTURES / "github_commits.atom").read_text()
    first_entry = BLOCK.search(body).group(2)  # type: ignore[union-attr]
    assert first_entry.index("<id>tag:github.com") < first_entry.index("<link")


@pytest.mark.parametrize(
    ("entry", "link"),
    [
        # no link at all: the non-URL guid that feedparser offers as the link is no link
        ("<item><title>T</title><guid>abc-123</guid></item>", ""),
        # a permalink guid and no link: the guid is the link (RSS 2.0)
        (
            "<item><title>T</title><guid>https://www.example.org/n/1</guid></item>",
            "https://www.example.org/n/1",
        ),
        # a non-URL guid before the link, without isPermaLink="false"
        (
            "<item><title>T</title><guid>99 at https://www.example.org</guid><link>/n/2</link></item>",
            "https://www.example.org/n/2",
        ),
    ],
)
def test_rss_guids_stand_in_for_a_link_only_when_the_item_has_none(entry: str, link: str) -> None:
    body = f'<rss version="2.0"><channel><title>t</title>{entry}</channel></rss>'
    assert parse_feed(body.encode(), feed_id="f", url="https://www.example.org/feed").entries[0].link == link


def test_an_atom_entry_with_only_an_enclosure_has_no_link() -> None:
    body = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>tag:x,2026:1</id><title>T</title>'
        '<link rel="enclosure" href="https://cdn.example.org/a.mp3"/></entry></feed>'
    )
    assert parse_feed(body.encode(), feed_id="f", url="https://www.example.org/feed").entries[0].link == ""


def test_a_github_style_commits_feed_drafts_every_entry_with_its_link() -> None:
    # When the GitHub commits feed (tag: ids before links) is previewed with every entry drafted
    out, err = io.StringIO(), io.StringIO()
    source = str(FIXTURES / "github_commits.atom")
    code = main(
        [
            "preview",
            source,
            "--json",
            "--offline",
            "--draft-all",
            "--config",
            str(ROOT / "config" / "hookline.yaml"),
        ],
        out=out,
        err=err,
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    # Then all 20 commits are drafts, each post carrying its own commit page
    assert code == 0, err.getvalue()
    assert len(lines) == 20
    assert [line["decision"] for line in lines] == ["draft"] * 20
    for line in lines:
        assert line["link"].startswith("https://github.com/example-org/hookline/commit/")
        assert line["link"].split("/")[-1] in line["text"]

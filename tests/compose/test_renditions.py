"""One rendition per configured network: the same entry, each network's own count and limit."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from hookline import weighted_length
from hookline.compose import renditions
from hookline.compose.measure import bluesky_length, graphemes, mastodon_length
from hookline.models import Entry
from hookline.ops.cli import main
from tests.conftest import NOW, make_config
from tests.support.paths import REFERENCE, ROOT

OWN_FEED = {"id": "news", "url": "https://www.example.org/news/feed", "source": "own"}
ACCOUNTS = {
    "x": {"handle": "ExampleTrust", "user_id": "1234567890"},
    "bluesky": {"handle": "example-trust.bsky.social", "did": "did:plc:abcdefghijklmnopqrstuvwx"},
    "mastodon": {"server": "https://mastodon.example", "account_id": "1", "acct": "ExampleTrust"},
}
LONG_LINK = "https://www.example.org/news/" + "a-very-long-slug-" * 8 + "end"


def config(**accounts: Any) -> Any:
    data = make_config(feeds=[OWN_FEED], organisation={"own_domains": ["example.org"]}).model_dump(
        mode="json", exclude_unset=True
    )
    data["accounts"] = accounts or ACCOUNTS
    from hookline.config import parse_config

    return parse_config(data)


def entry(title: str, link: str = "https://www.example.org/news/river-quality") -> Entry:
    return Entry(feed_id="news", identity=link, title=title, link=link)


def test_every_configured_network_gets_its_rendition_with_its_own_utm_source():
    cfg = config()
    made = renditions(entry("River quality report published"), cfg.feeds[0], cfg, NOW)

    assert list(made) == ["x", "bluesky", "mastodon"]
    for network, composed in made.items():
        source = "x" if network == "x" else network  # X keeps compose.utm.source as configured
        assert f"utm_source={source}&" in composed.link
        assert composed.text.startswith("River quality report published ")
        assert composed.text.endswith(composed.link)
    assert (made["x"].limit, made["bluesky"].limit, made["mastodon"].limit) == (280, 300, 500)
    assert made["x"].weighted_length == weighted_length(made["x"].text)
    assert made["bluesky"].weighted_length == graphemes(made["bluesky"].text)


def test_bluesky_counts_the_whole_url_so_a_long_link_leaves_less_room_for_the_hook():
    # Given a long headline and a long link (X counts it 23, Bluesky every character)
    cfg = config()
    title = "Council publishes its long-awaited strategy for rivers " * 8
    made = renditions(entry(title, LONG_LINK), cfg.feeds[0], cfg, NOW)

    # Then each rendition fits its own limit, with the link whole at the end
    x, sky, masto = made["x"], made["bluesky"], made["mastodon"]
    assert weighted_length(x.text) <= 280
    assert bluesky_length(sky.text) <= 300 and len(sky.text.encode()) <= 3000
    assert mastodon_length(masto.text) <= 500
    assert all(c.text.endswith(c.link) and c.link.startswith(LONG_LINK) for c in made.values())
    # And Bluesky's hook is the shortest: its limit counts the link's every character
    assert len(sky.hook) < len(x.hook) < len(masto.hook)
    assert sky.hook.endswith("…")


def test_mastodon_follows_the_servers_own_limit_and_url_weight():
    cfg = config()
    made = renditions(
        entry("Council publishes its strategy for rivers " * 10),
        cfg.feeds[0],
        cfg,
        NOW,
        mastodon_limits=(120, 30),
    )
    masto = made["mastodon"]
    assert masto.limit == 120
    assert mastodon_length(masto.text, 30) <= 120
    assert mastodon_length(masto.text, 30) == graphemes(masto.text.removesuffix(masto.link)) + 30


def test_an_emoji_sequence_is_one_grapheme_on_bluesky_and_mastodon_but_two_on_x():
    family = "👨‍👩‍👧"
    assert graphemes(family) == 1
    assert bluesky_length(f"{family} https://example.org/x") == 1 + 1 + len("https://example.org/x")
    assert mastodon_length(f"{family} https://example.org/x") == 1 + 1 + 23
    assert weighted_length(family) == 2


@pytest.mark.parametrize("keep", [["bluesky"], ["mastodon", "bluesky"]])
def test_without_x_the_first_networks_rendition_is_the_preview_text(tmp_path, keep):
    cfg_path = tmp_path / "c.yaml"
    import yaml

    data = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text())
    data["accounts"] = {k: v for k, v in data["accounts"].items() if k in keep}
    cfg_path.write_text(yaml.safe_dump(data))
    feed = tmp_path / "feed.xml"
    feed.write_text(
        "<rss version='2.0'><channel><title>t</title><item><title>Annual report published</title>"
        "<link>https://www.example.org/news/annual-report</link></item></channel></rss>"
    )
    out, err = io.StringIO(), io.StringIO()
    assert (
        main(
            ["preview", str(feed), "--json", "--offline", "--draft-all", "--config", str(cfg_path)],
            out=out,
            err=err,
        )
        == 0
    )
    [line] = [json.loads(x) for x in out.getvalue().splitlines()]
    order = [n for n in ("x", "bluesky", "mastodon") if n in keep]
    assert list(line["networks"]) == order
    first = line["networks"][order[0]]
    assert (line["text"], line["weighted_length"]) == (first["text"], first["length"])


def test_the_corpus_gives_no_rendition_over_its_limit_and_none_without_its_link():
    # Given feedparser's whole corpus through preview --offline --draft-all, with all three accounts
    files = sorted(str(p) for p in (REFERENCE / "feedparser-tests").rglob("*") if p.is_file())
    out, err = io.StringIO(), io.StringIO()
    main(
        [
            "preview",
            *files,
            "--json",
            "--offline",
            "--draft-all",
            "--config",
            str(ROOT / "config" / "hookline.example.yaml"),
        ],
        out=out,
        err=err,
    )
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    drafted = [line for line in lines if line["networks"]]
    assert len(drafted) > 20  # most corpus entries have no http(s) link, so nothing to post
    for line in drafted:
        # Then every configured network has its rendition, within its limit, carrying the link
        assert list(line["networks"]) == ["x", "bluesky", "mastodon"]
        for network, made in line["networks"].items():
            assert made["length"] <= made["limit"], (network, made)
            assert line["post_link"] is not None
            link_path = line["post_link"].split("?")[0]
            assert link_path in made["text"], (network, made["text"])
        # And X's stays the preview's text, as the contract says
        assert line["text"] == line["networks"]["x"]["text"]
        assert line["weighted_length"] == weighted_length(line["text"])
        assert line["networks"]["bluesky"]["length"] == bluesky_length(line["networks"]["bluesky"]["text"])


def config_with_compose(compose: dict[str, Any]) -> Any:
    from hookline.config import parse_config

    data = make_config(feeds=[OWN_FEED], organisation={"own_domains": ["example.org"]}).model_dump(
        mode="json", exclude_unset=True
    )
    data["accounts"] = ACCOUNTS
    data["compose"] = {**data.get("compose", {}), **compose}
    return parse_config(data)


def test_a_bluesky_only_template_is_used_on_bluesky_and_the_shared_one_elsewhere():
    # Given a Bluesky template for own publications and none for X or Mastodon
    cfg = config_with_compose(
        {"networks": {"bluesky": {"templates": {"own_publication": "New from {org}: {hook} {link}"}}}}
    )
    plain = config()

    made = renditions(entry("River quality report published"), cfg.feeds[0], cfg, NOW)
    before = renditions(entry("River quality report published"), plain.feeds[0], plain, NOW)

    # Then Bluesky's post follows its own template
    org = cfg.organisation.name
    assert made["bluesky"].text == f"New from {org}: River quality report published {made['bluesky'].link}"
    # And X and Mastodon are exactly what they were without the override
    assert made["x"].text == before["x"].text == f"River quality report published {made['x'].link}"
    assert made["mastodon"].text == before["mastodon"].text


def test_a_kind_the_network_does_not_override_uses_the_shared_template():
    cfg = config_with_compose(
        {
            "templates": {"own_publication": "Read: {hook} {link}"},
            "networks": {"mastodon": {"templates": {"own_event": "{hook} ({when}) {link}"}}},
        }
    )
    made = renditions(entry("River quality report published"), cfg.feeds[0], cfg, NOW)
    assert made["mastodon"].text == f"Read: River quality report published {made['mastodon'].link}"


def test_hashtags_can_be_off_on_one_network_and_different_on_another():
    # Given shared hashtags, none on Mastodon and Bluesky's own map
    cfg = config_with_compose(
        {
            "hashtags": {"Research": "#research", "Water": "#water"},
            "networks": {
                "mastodon": {"max_hashtags": 0},
                "bluesky": {"hashtags": {"Research": "#science"}},
            },
        }
    )
    item = Entry(
        feed_id="news",
        identity="r",
        title="River quality report published",
        link="https://www.example.org/news/river-quality",
        categories=("Research", "Water"),
    )

    made = renditions(item, cfg.feeds[0], cfg, NOW)

    assert made["x"].text == f"River quality report published {made['x'].link} #research #water"
    assert made["bluesky"].text == f"River quality report published {made['bluesky'].link} #science"
    assert made["mastodon"].text == f"River quality report published {made['mastodon'].link}"


def test_a_typod_network_or_placeholder_in_a_networks_template_is_a_config_error_naming_the_path():
    from hookline.config import ConfigError

    with pytest.raises(ConfigError) as typo:
        config_with_compose({"networks": {"blusky": {"max_hashtags": 0}}})
    assert typo.value.problems == ["compose.networks: unknown network 'blusky' (use x, bluesky or mastodon)"]

    with pytest.raises(ConfigError) as placeholder:
        config_with_compose({"networks": {"bluesky": {"templates": {"own_event": "{hook} {wen} {link}"}}}})
    [problem] = placeholder.value.problems
    assert problem.startswith(
        "compose.networks.bluesky.templates.own_event: unknown placeholder {wen} (known: "
    )

    with pytest.raises(ConfigError) as key:
        config_with_compose({"networks": {"x": {"template": "{hook} {link}"}}})
    assert key.value.problems == ["compose.networks.x.template: Extra inputs are not permitted"]


def test_a_networks_own_words_pass_the_final_check_on_that_network():
    # Given a Mastodon template that tags the organisation's own hashtag, and a map only Mastodon has
    cfg = config_with_compose(
        {
            "networks": {
                "mastodon": {
                    "templates": {"own_publication": "{hook} #OpenData {link} {hashtags}"},
                    "hashtags": {"Water": "#rivers"},
                }
            }
        }
    )
    item = Entry(
        feed_id="news",
        identity="w",
        title="Why #rivers matter to the Fens",
        link="https://www.example.org/news/rivers",
        categories=("Water",),
    )

    made = renditions(item, cfg.feeds[0], cfg, NOW)

    # Then the template's tag is posted, and the feed's #rivers keeps its sign as the organisation's own
    link = made["mastodon"].link
    assert made["mastodon"].text == f"Why #rivers matter to the Fens #OpenData {link}"
    assert made["x"].text == f"Why #rivers matter to the Fens {made['x'].link}"


def test_a_bad_hashtag_in_a_networks_map_is_named_with_its_path():
    from hookline.config import ConfigError

    with pytest.raises(ConfigError) as caught:
        config_with_compose({"networks": {"mastodon": {"hashtags": {"Water": "#2026"}}}})
    [problem] = caught.value.problems
    assert problem.startswith("compose.networks.mastodon.hashtags: hashtag '#2026' for category 'Water'")

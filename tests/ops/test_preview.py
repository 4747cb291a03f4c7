"""`python -m hookline preview`: what would be posted, with nothing written and, offline, nothing fetched."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import time_machine
import yaml

from hookline import weighted_length
from hookline.compose.measure import url_spans
from hookline.ops.cli import main
from tests.conftest import NOW, base_config_data
from tests.support.feeds import Item, page, rss
from tests.support.paths import REFERENCE

CONTRACT_FIELDS = {"source", "title", "link", "decision", "reason", "text", "weighted_length", "event"}


def preview(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["preview", *argv], out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def config_file(tmp_path: Path, **extra: Any) -> str:
    path = tmp_path / "hookline.yaml"
    path.write_text(yaml.safe_dump({**base_config_data(), **extra}), encoding="utf-8")
    return str(path)


def test_offline_draft_all_over_the_whole_feedparser_corpus_never_exceeds_280_or_loses_a_link(tmp_path):
    # Given every file of feedparser's own test corpus (well-formed, ill-formed, odd encodings)
    files = sorted(str(p) for p in (REFERENCE / "feedparser-tests").rglob("*") if p.is_file())
    assert len(files) > 1000

    # When each entry is composed as if the rules had drafted it, offline
    code, lines, err = preview(
        "--offline", "--draft-all", "--json", "--config", config_file(tmp_path), *files
    )

    # Then every draft fits X's limit and carries its link, whole, where X will link it
    drafts = [line for line in lines if line["decision"] == "draft"]
    assert len(drafts) >= 30  # the corpus really produced posts, not just skips
    for draft in drafts:
        assert draft["text"] and draft["post_link"], draft
        assert draft["weighted_length"] == weighted_length(draft["text"]) <= 280, draft
        assert draft["post_link"] in draft["text"], draft
        assert draft["post_link"] in [u for _, _, u in url_spans(draft["text"])] or not url_spans(
            draft["post_link"]
        )
    # And every skip says why; every source that could not be read is named on stderr
    assert all(line["reason"] for line in lines if line["decision"] == "skip")
    assert all(line.startswith("hookline: /") for line in err.splitlines())
    assert code == (2 if err else 0)


def served_feed(web: Any) -> str:
    items = [
        Item("New research report: river quality in the Fens", "river-quality"),
        Item("Fens water summit 2026: farmers, scientists and the council", "summit", category="Events"),
    ]
    web.add("/news.xml", rss(web.base_url, items, NOW))
    web.add("/news/river-quality", page("River quality"), content_type="text/html")
    jsonld = json.dumps(
        {
            "@type": "Event",
            "startDate": (NOW + timedelta(days=6, hours=8)).isoformat(),
            "location": {"@type": "Place", "name": "The Maltings", "address": {"addressLocality": "Ely"}},
        }
    )
    web.add("/news/summit", page("Summit", card=False, jsonld=jsonld), content_type="text/html")
    web.add("/robots.txt", b"User-agent: *\nAllow: /\n", content_type="text/plain")
    return web.url("/news.xml")


def test_offline_requests_nothing_but_the_source_urls(web, tmp_path):
    feed = served_feed(web)
    with time_machine.travel(NOW, tick=False):
        code, lines, err = preview("--offline", "--json", "--config", config_file(tmp_path), feed)
    assert code == 0, err
    assert len(lines) == 2
    # The server's request log shows the feed, and only the feed
    assert [path for path, _ in web.requests] == ["/news.xml"]
    assert all(line["preflight"] is None for line in lines)


def test_online_preview_checks_each_link_and_reads_the_event_from_the_page(web, tmp_path):
    feed = served_feed(web)
    with time_machine.travel(NOW, tick=False):
        code, lines, err = preview("--json", "--draft-all", "--config", config_file(tmp_path), feed)
    assert code == 0, err
    report, summit = lines
    assert set(report) >= CONTRACT_FIELDS

    # The report's link answers and has a card: every check passed
    assert report["decision"] == "draft"
    assert report["preflight"]["final_url"] == web.url("/news/river-quality")
    assert report["preflight"]["warnings"] == []
    assert report["text"] == (
        "New research report: river quality in the Fens "
        + web.url("/news/river-quality")
        + "?utm_source=x&utm_medium=social&utm_campaign=hookline"
    )

    # The summit's page is an event (JSON-LD): when and where reach the post
    assert summit["event"] == {
        "start": "2026-12-01T18:00:00+00:00",
        "end": None,
        "venue": "The Maltings, Ely",
    }
    assert summit["text"].startswith(
        "Fens water summit 2026: farmers, scientists and the council: Tue 1 Dec, 18:00, The Maltings, Ely http://"
    )
    # And its missing card tags are a warning the approver will see
    assert summit["preflight"]["warnings"] == [
        "The page has no og:title and no og:image or twitter:card tag: X will show a bare link, no card."
    ]
    # Pages and robots.txt were fetched, robots.txt once for the site
    paths = sorted(path for path, _ in web.requests)
    assert paths == ["/news.xml", "/news/river-quality", "/news/summit", "/robots.txt"]


def test_the_text_output_shows_the_post_and_every_check(web, tmp_path):
    feed = served_feed(web)
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        code = main(["preview", "--draft-all", "--config", config_file(tmp_path), feed], out=out, err=err)
    text = out.getvalue()
    assert code == 0, err.getvalue()
    assert "DRAFT New research report: river quality in the Fens" in text
    assert "      post (" in text
    assert "      ok: The link answers HTTP 200." in text
    assert "      warning: The page has no og:title and no og:image or twitter:card tag" in text
    assert "      event: 2026-12-01T18:00:00+00:00 at The Maltings, Ely" in text


def test_hostile_titles_are_skipped_with_the_reason_and_a_bad_source_does_not_stop_the_others(web, tmp_path):
    items = [Item("\u202e\u200b", "blank", summary=""), Item("@someone $TSLA report on rivers", "mentions")]
    web.add("/hostile.xml", rss(web.base_url, items, NOW))
    missing = str(tmp_path / "no-such-feed.xml")
    with time_machine.travel(NOW, tick=False):
        code, lines, err = preview(
            "--offline",
            "--draft-all",
            "--json",
            "--config",
            config_file(tmp_path),
            missing,
            web.url("/hostile.xml"),
        )
    assert code == 2
    assert err.startswith(f"hookline: {missing}: cannot read")
    blank, mentions = lines
    assert blank["decision"] == "skip"
    assert (
        blank["reason"]
        == "the title is empty once control characters, mentions and web addresses are removed"
    )
    assert blank["text"] is None and blank["weighted_length"] is None
    assert mentions["text"].startswith("someone TSLA report on rivers http://")


def council_feed(tmp_path: Path) -> str:
    items = [
        Item(
            "Climate action plan 2026-2030", "climate-plan", category="Publications", categories=["Climate"]
        ),
        Item("Planning application 25/01234/FUL", "planning-app", category="Planning applications"),
    ]
    path = tmp_path / "council.xml"
    path.write_bytes(rss("https://www.example.org", items, NOW))
    return str(path)


def test_preview_shows_the_terms_that_matched_and_with_explain_every_term_it_tried(tmp_path):
    # Given a council feed whose publications carry the plural category 'Publications'
    source = council_feed(tmp_path)
    shipped = str(Path(__file__).resolve().parents[2] / "config" / "hookline.yaml")

    # When it is previewed with the shipped rules
    with time_machine.travel(NOW, tick=False):
        code, lines, err = preview("--offline", "--json", "--explain", "--config", shipped, source)

    # Then the plan is drafted, and the line names the category and the rule term it matched
    assert code == 0, err
    plan, application = lines
    assert plan["decision"] == "draft"
    assert plan["reason"] == "category 'Publications' matched 'Publication' (rule 'publications')"
    assert {"list": "include_categories", "term": "Publication", "found": "Publications"} in plan["matched"]
    assert {"list": "include_keywords", "term": "plan", "found": "plan"} in plan["matched"]
    # And a planning application is not a plan: no term matched it, and --explain shows each one tried
    assert application["decision"] == "skip"
    assert application["matched"] == []
    tried = {(t["list"], t["term"]): t["found"] for t in application["tried"]}
    assert tried[("include_keywords", "plan")] is None
    assert tried[("include_categories", "Plan")] is None
    assert len(tried) == sum(
        len(v) for k, v in load_rules(shipped).items() if k.endswith(("categories", "keywords"))
    )

    # And the text form says the same to a person
    out, err_text = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        main(["preview", "--offline", "--explain", "--config", shipped, source], out=out, err=err_text)
    text = out.getvalue()
    assert "      matched: 'Publications' = 'Publication' (include_categories)" in text
    assert "      tried include_keywords 'plan': not found" in text


def load_rules(path: str) -> dict[str, Any]:
    return dict(yaml.safe_load(Path(path).read_text(encoding="utf-8"))["rule_sets"]["publications"])


def test_the_text_form_names_the_config_and_rules_it_judged_with(tmp_path):
    source = council_feed(tmp_path)
    config = config_file(tmp_path)
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        code = main(["preview", "--offline", "--config", config, source], out=out, err=err)
    assert code == 0, err.getvalue()
    first, second = out.getvalue().splitlines()[:2]
    assert first == f"judged with {config}"
    assert second == (
        f"{source}: not a feed in the config, so judged as an own-organisation publication feed, "
        "rules 'publications'"
    )
    # And --json says it on every line
    with time_machine.travel(NOW, tick=False):
        code, lines, _ = preview("--offline", "--json", "--config", config, source)
    assert {(line["config"], line["rules"]) for line in lines} == {(config, "publications")}


def test_outside_the_repository_it_says_it_fell_back_to_built_in_rules(tmp_path, monkeypatch):
    # Given a directory with no config/hookline.yaml, and no HOOKLINE_CONFIG
    source = council_feed(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HOOKLINE_CONFIG", raising=False)
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        code = main(["preview", "--offline", source], out=out, err=err)
    # Then it still previews, and says plainly which rules it used and how to use the real ones
    assert code == 0
    assert err.getvalue() == (
        "hookline: no config file at config/hookline.yaml, so this uses hookline's built-in defaults, "
        "whose rules draft every entry with a title and link under 14 days old: pass --config FILE, "
        "or run from the repository's root\n"
    )
    assert out.getvalue().startswith("judged with hookline's built-in defaults\n")
    # the built-in rules draft the planning application the shipped rules would skip
    assert "DRAFT Planning application 25/01234/FUL" in out.getvalue()


def test_the_text_form_never_prints_a_titles_bidi_or_control_characters(web, tmp_path):
    # Given titles that would reorder or rewrite the terminal line they are printed on
    items = [
        Item("Minutes \u202eslanif eht\u202c of the board", "minutes", category="Minutes"),
        Item("Report \u2067on rivers\u2069 \u200bnow", "report"),
    ]
    web.add("/bidi.xml", rss(web.base_url, items, NOW))
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        code = main(
            ["preview", "--offline", "--config", config_file(tmp_path), web.url("/bidi.xml")],
            out=out,
            err=err,
        )
    text = out.getvalue()
    assert code == 0, err.getvalue()
    # Then each one is shown as its escape, visibly, and none reaches the terminal raw
    assert "skip  Minutes \\u202eslanif eht\\u202c of the board" in text
    assert "Report \\u2067on rivers\\u2069 \\u200bnow" in text
    assert not any(ch in text for ch in "\u202e\u202c\u2067\u2069\u200b\x1b")


def test_preview_reads_the_named_feed_but_never_fetches_its_links_at_internal_addresses(
    web, guarded, tmp_path
):
    # Given a partner's feed (the operator names it as SOURCE) whose entry links at loopback, flag unset
    link = web.url("/2018-06-01/runtime/invocation/next")
    feed = web.add("/partner.xml", rss(web.base_url, [Item("New research report", "r", link=link)], NOW))

    with time_machine.travel(NOW, tick=False):
        code, [report], err = preview("--json", "--draft-all", "--config", config_file(tmp_path), feed)

    # Then the feed was read, the link was not, and the pre-flight says so
    assert code == 0, err
    assert report["preflight"]["warnings"] == [
        "The link points at an internal address (127.0.0.1: loopback) and was not fetched."
    ]
    assert [path for path, _ in web.requests] == ["/partner.xml"]

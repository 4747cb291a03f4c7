"""X's weighted length, exactly as X counts it: twitter-text's own conformance cases."""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from typing import Any

import pytest
import yaml

from hookline import weighted_length
from hookline.compose.entities import x_entities, x_mentions
from hookline.compose.measure import _parse_tweet
from tests.support.paths import REFERENCE, ROOT

VALIDATE = REFERENCE / "twitter-text" / "validate.yml"


@cache
def conformance() -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load(VALIDATE.read_text(encoding="utf-8"))["tests"]  # type: ignore[no-any-return]


def cases(section: str) -> list[Any]:
    return [pytest.param(case, id=case["description"]) for case in conformance()[section]]


@pytest.mark.parametrize("case", cases("WeightedTweetsWithDiscountedEmojiCounterTest"))
def test_weighted_length_matches_every_discounted_emoji_conformance_case(case):
    # Given a text from X's conformance suite (v3 rules: URLs 23, emoji and CJK 2)
    # When hookline measures it
    # Then the length is X's, and so is every other figure X's parser reports
    assert weighted_length(case["text"]) == case["expected"]["weightedLength"]
    parsed = _parse_tweet()(case["text"]).asdict()
    assert {key: parsed[key] for key in case["expected"]} == case["expected"]


@pytest.mark.parametrize("case", cases("UnicodeDirectionalMarkerCounterTest"))
def test_directional_markers_are_counted_as_x_counts_them(case):
    parsed = _parse_tweet()(case["text"]).asdict()
    assert {key: parsed[key] for key in case["expected"]} == case["expected"]


@pytest.mark.parametrize("case", cases("WeightedTweetsCounterTest"))
def test_the_older_v2_counter_cases_pass_with_the_v2_rules(case):
    # The v2 section predates emoji discounting; the same parser with X's v2 settings
    # must agree, which shows the counting itself (not just one table) is X's.
    from twitter_text.config import config

    v2 = {**config["version2"], "emoji_parsing_enabled": False}
    parsed = _parse_tweet()(case["text"], v2).asdict()
    assert {key: parsed[key] for key in case["expected"]} == case["expected"]


@pytest.mark.parametrize("case", cases("tweets"))
def test_valid_and_invalid_posts_of_the_140_era_are_judged_with_the_v1_rules(case):
    # This section was written for 140 characters: X's v1 settings apply to it.
    from twitter_text.config import config

    v1 = {**config["version1"], "emoji_parsing_enabled": False}
    assert _parse_tweet()(case["text"], v1).valid is case["expected"]


@pytest.mark.parametrize("case", cases("usernames"))
def test_mentions_are_found_as_x_finds_usernames(case):
    # X's isValidUsername: the text is exactly one mention of the name after the @.
    assert (x_mentions(case["text"]) == [case["text"][1:]]) is case["expected"]


@pytest.mark.parametrize("case", cases("lists"))
def test_list_mentions_are_found_as_x_finds_lists(case):
    text = case["text"]
    whole = [e for e in x_entities(text) if e[2] == "mention" and (e[0], e[1]) == (0, len(text))]
    assert (bool(whole) and "/" in whole[0][3]) is case["expected"]


def test_the_public_export_is_the_same_counter():
    # Given text with a URL, an emoji, CJK and Latin
    text = "Report 📊 日本 https://www.example.org/a/very/long/path/that/x/shortens/to/twenty-three"
    # Then `from hookline import weighted_length` counts the URL as 23 and the rest as X does
    assert weighted_length(text) == len("Report ") + 2 + 1 + 4 + 1 + 23


def test_importing_hookline_or_compose_loads_neither_twitter_text_nor_regex():
    # A cold start that never measures text must not pay ~200 ms for twitter-text's regexes;
    # measuring must work without setuptools' pkg_resources and leave no stand-in behind.
    code = (
        "import sys\n"
        "import hookline, hookline.compose, hookline.poll.linkcheck\n"
        "assert 'twitter_text' not in sys.modules and 'regex' not in sys.modules, 'eager import'\n"
        "had = 'pkg_resources' in sys.modules\n"
        "print(hookline.weighted_length('hi 👋 https://example.org/x'))\n"
        "assert ('pkg_resources' in sys.modules) == had, 'shim left behind'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT / 'layers' / 'hookline'}", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(3 + 2 + 1 + 23)

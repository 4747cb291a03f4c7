"""Every file of feedparser's own test corpus (well-formed, ill-formed, every encoding) through
`python -m hookline preview SOURCE... --json --offline`, the contract in docs/design.md.

The CLI's main() runs in-process with all files in one call, so the corpus costs seconds.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from hookline.ops.cli import main
from tests.support.paths import REFERENCE, ROOT

CORPUS = REFERENCE / "feedparser-tests"
CONTRACT = {"source", "title", "link", "decision", "reason", "text", "weighted_length", "event"}


def corpus_files() -> list[str]:
    return sorted(str(p) for p in CORPUS.rglob("*") if p.is_file())


def preview(*extra: str) -> tuple[int, list[dict[str, Any]], list[str]]:
    out, err = io.StringIO(), io.StringIO()
    files = corpus_files()
    code = main(
        [
            "preview",
            *files,
            "--json",
            "--offline",
            "--config",
            str(ROOT / "config" / "hookline.yaml"),
            *extra,
        ],
        out=out,
        err=err,
    )
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue().splitlines()


def test_the_corpus_is_there() -> None:
    files = corpus_files()
    assert len(files) > 1800
    assert any("/illformed/" in f for f in files)
    assert any("/encoding/" in f for f in files)


@pytest.mark.parametrize("mode", [[], ["--draft-all"]], ids=["rules", "draft-all"])
def test_every_corpus_file_goes_through_preview_and_every_line_keeps_the_contract(mode: list[str]) -> None:
    # When every file of the corpus is previewed in one run (it raises nothing: an unhandled
    # exception anywhere would propagate out of main())
    code, lines, errors = preview(*mode)

    # Then each file either gave JSON lines or exactly one line on stderr naming it, never both
    files = corpus_files()
    produced = {line["source"] for line in lines}
    failed = {}
    for error in errors:
        assert error.startswith("hookline: "), error
        source = next((f for f in files if error.startswith(f"hookline: {f}: ")), None)
        assert source is not None, f"stderr line names no source: {error}"
        assert source not in failed, f"two stderr lines for {source}"
        failed[source] = error.removeprefix(f"hookline: {source}: ")
    assert not (produced & set(failed))
    # (a file with a feed but no entries gives neither, which is right: nothing to show)
    assert len(produced) > 900
    # And the only sources refused are the ones that hold no RSS or Atom: the licence, the
    # commit note, an empty document and CDF channels, each with a reason
    assert code == 2
    names = {str(Path(f).relative_to(CORPUS)) for f in failed}
    assert names == {
        "LICENSE",
        "SOURCE-COMMIT",
        "illformed/rss_empty_document.xml",
        *(
            f"wellformed/cdf/{n}.xml"
            for n in (
                "channel_abstract_map_description",
                "channel_abstract_map_tagline",
                "channel_href_map_link",
                "channel_href_map_links",
                "channel_lastmod",
                "channel_lastmod_parsed",
                "channel_title",
            )
        ),
    }
    assert all(reason.startswith("not an RSS or Atom feed") for reason in failed.values())

    # And every line carries the contract's fields with the contract's types
    for line in lines:
        assert set(line) >= CONTRACT, line
        assert line["decision"] in ("draft", "skip"), line
        assert isinstance(line["reason"], str), line
        assert line["reason"], line
        assert isinstance(line["title"], str), line
        assert isinstance(line["link"], str), line
        if line["decision"] == "draft":
            assert isinstance(line["text"], str), line
            assert isinstance(line["weighted_length"], int), line
            assert line["weighted_length"] <= 280, line
        else:
            assert line["text"] is None, line
            assert line["weighted_length"] is None, line
        if line["event"] is not None:
            assert datetime.fromisoformat(line["event"]["start"]).utcoffset() is not None, line
            assert "venue" in line["event"], line
        # No markup from the corpus' hostile and HTML-laden titles reaches the output as markup
        assert "<script" not in line["title"].lower(), line
        if line["text"]:
            assert "<script" not in line["text"].lower(), line

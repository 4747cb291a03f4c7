"""Composing posts: what the Unicode libraries cost to load, and what one post costs to write."""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import ROOT, Report

LAYER = ROOT / "layers" / "hookline"


def _cold_import_ms(module: str, runs: int = 5) -> float:
    """Median wall time of `import module` in a fresh interpreter (what a cold start pays)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(LAYER), "PATH": "/usr/bin:/bin"},
        )
        times.append(float(done.stdout) * 1000)
    return statistics.median(times)


def _package_bytes(name: str) -> int:
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return 0
    folder = Path(next(iter(spec.submodule_search_locations)))
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def run(report: Report) -> None:
    sys.path.insert(0, str(LAYER))
    from hookline.compose import compose
    from hookline.compose.measure import weighted_length
    from hookline.config import parse_config
    from hookline.models import Entry, EventInfo
    from hookline.ops.cli import main
    from tests.conftest import base_config_data
    from tests.support.paths import REFERENCE

    corpus = REFERENCE / "feedparser-tests"

    section = report.section(
        "Composing posts",
        "Cold imports are the median of 5 fresh interpreters (`import X` only). Per-post times are "
        "the median of 200 `compose()` calls after a warm-up, on entries of each kind; the corpus "
        "figure is `preview --offline --draft-all` in-process over every file of feedparser's test "
        "corpus. Sizes are the unpacked packages as installed.",
    )
    for module, name in (
        ("twitter_text", "cold_import_twitter_text"),
        ("regex", "cold_import_regex"),
        ("protego", "cold_import_protego"),
        ("hookline.compose", "cold_import_hookline_compose"),
    ):
        if module == "twitter_text":
            # twitter-text needs the pkg_resources stand-in compose installs; time it through compose.
            module = "hookline.compose.measure; hookline.compose.measure._twitter_text()"
        report.figure(section, name, _cold_import_ms(module), "ms")
    report.figure(section, "layer_bytes_regex", _package_bytes("regex") / 1e6, "MB")
    report.figure(section, "layer_bytes_protego", _package_bytes("protego") / 1e6, "MB")

    config = parse_config(base_config_data())
    feed = config.feeds[0]
    now = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    link = "https://www.example.org/news/river-quality"
    entries = {
        "short_publication": Entry("news", "1", "New research report: river quality in the Fens", link),
        "event": Entry(
            "news",
            "2",
            "Fens water summit: farmers, scientists and the council",
            link,
            event=EventInfo(datetime(2026, 12, 1, 18, tzinfo=UTC), venue="The Maltings, Ely"),
        ),
        "long_latin_cut": Entry("news", "3", " ".join(f"word{i}" for i in range(120)), link),
        "long_cjk_cut": Entry("news", "4", "気候変動に関する新しい報告書を公表しました" * 20, link),
        "hostile_emoji_cut": Entry("news", "5", "@x \u202e👩‍💻 $ABC " * 80, link),
    }
    weighted_length("warm up")
    for name, entry in entries.items():
        compose(entry, feed, config, now)
        samples = []
        for _ in range(200):
            began = time.perf_counter()
            compose(entry, feed, config, now)
            samples.append((time.perf_counter() - began) * 1000)
        report.figure(section, f"compose_{name}", statistics.median(samples), "ms")

    if corpus.is_dir():
        files = sorted(str(p) for p in corpus.rglob("*") if p.is_file())
        config_path = ROOT / "test-artifacts" / "bench-compose.yaml"
        config_path.parent.mkdir(exist_ok=True)
        import yaml

        config_path.write_text(yaml.safe_dump(base_config_data()), encoding="utf-8")
        began = time.perf_counter()
        main(
            ["preview", "--offline", "--draft-all", "--json", "--config", str(config_path), *files],
            out=io.StringIO(),
            err=io.StringIO(),
        )
        report.figure(section, "preview_offline_corpus", time.perf_counter() - began, "s")
        report.figure(section, "preview_offline_corpus_files", len(files), "files")
    section.verdict.append(
        "twitter-text's import dominates; it and `regex` load only when a post is first measured or cut."
    )

"""`python -m hookline preview`: what hookline would draft from a feed, without writing anything."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hookline.compose import renditions
from hookline.compose.measure import ComposeError
from hookline.config import Config, FeedConfig
from hookline.models import Entry, Judgement
from hookline.poll.feeds import ParseError, parse_feed
from hookline.poll.fetch import Fetcher, FetchError
from hookline.poll.linkcheck import LinkChecker
from hookline.poll.rules import tried_terms
from hookline.poll.run import assess


class SourceError(Exception):
    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


@dataclass
class PreviewLine:
    source: str
    feed_id: str
    title: str
    link: str
    decision: str
    reason: str
    text: str | None
    weighted_length: int | None
    event: dict[str, Any] | None
    categories: list[str]
    published: str | None
    preflight: dict[str, Any] | None = None
    post_link: str | None = None  # the link as posted (UTM tags on own links)
    matched: list[dict[str, str | None]] = dataclasses.field(default_factory=list)  # rule terms found
    tried: list[dict[str, str | None]] | None = None  # with --explain: every rule term looked for
    rules: str = ""  # the rule set it was judged with
    # Each configured network's rendition: {"text", "length", "limit"} as that network counts.
    networks: dict[str, dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def feed_for(source: str, config: Config) -> FeedConfig:
    """The configured feed for this URL, else an own-organisation publication feed with default rules."""
    for feed in config.feeds:
        if str(feed.url) == source or str(feed.url).rstrip("/") == source.rstrip("/"):
            return feed
    rules = "publications" if "publications" in config.rule_sets else next(iter(config.rule_sets))
    return FeedConfig.model_construct(
        id="preview",
        url=source,
        kind="publication",
        source="own",
        partner=None,
        rules=rules,
        template=None,
        neutralise_mentions=True,
    )


def judged_by(source: str, config: Config) -> str:
    """Which feed and rules a source is judged as: a source not in the config gets defaults."""
    feed = feed_for(source, config)
    if any(f is feed for f in config.feeds):
        return f"feed {feed.id!r} of the config, rules {feed.rules!r}"
    return (
        f"not a feed in the config, so judged as an own-organisation publication feed, rules {feed.rules!r}"
    )


def read_source(source: str, fetcher: Fetcher) -> tuple[bytes, dict[str, str], str]:
    if source.startswith(("http://", "https://")):
        try:
            result = fetcher.get(source, configured=True)  # the operator named it
        except FetchError as exc:
            raise SourceError(source, f"cannot fetch: {exc}") from None
        return result.body, dict(result.headers), result.final_url
    path = Path(source)
    try:
        return path.read_bytes(), {}, path.resolve().as_uri()
    except OSError as exc:
        raise SourceError(source, f"cannot read: {exc.strerror or exc}") from None


def preview_source(
    source: str,
    config: Config,
    now: datetime,
    fetcher: Fetcher,
    *,
    offline: bool = False,
    draft_all: bool = False,
    linkcheck: LinkChecker | None = None,
    explain: bool = False,
) -> Iterator[PreviewLine]:
    body, headers, url = read_source(source, fetcher)
    feed = feed_for(source, config)
    try:
        parsed = parse_feed(
            body, feed_id=feed.id, url=url, headers=headers, default_tz=config.organisation.tz
        )
    except ParseError as exc:
        raise SourceError(source, str(exc)) from None
    except Exception as exc:  # feedparser on truly broken bytes; the source fails, not the run
        raise SourceError(source, f"cannot parse: {type(exc).__name__}: {exc}") from None
    for entry in parsed.entries:
        # The poll's own judgement (rules, linked page, called-off events); preview always
        # fetches the page online, to show the pre-flight of skipped entries too.
        assessed = assess(entry, feed, config, now, None if offline else linkcheck, always_fetch=True)
        entry, judgement, page = assessed.entry, assessed.judgement, assessed.page
        if draft_all and not judgement.drafted:
            judgement = Judgement("draft", f"--draft-all (the rules would skip it: {judgement.reason})")
        line = _line(source, entry, feed, config, judgement, now, page.as_json() if page else None)
        tried = tried_terms(entry, config.rule_sets[feed.rules])
        line.matched = [t.as_json() for t in tried if t.found is not None]
        line.rules = feed.rules
        if explain:
            line.tried = [t.as_json() for t in tried]
        yield line


def _line(
    source: str,
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    judgement: Judgement,
    now: datetime,
    preflight: dict[str, Any] | None,
) -> PreviewLine:
    text = None
    length = None
    link = None
    networks = None
    decision, reason = judgement.decision, judgement.reason
    if judgement.drafted:
        try:
            # Mastodon's server limits are not asked here (preview requests only its sources):
            # its defaults, 500 and 23 per URL.
            made = renditions(entry, feed, config, now)
            composed = made.get("x") or next(iter(made.values()))
            text, length, link = composed.text, composed.weighted_length, composed.link
            networks = {
                n: {"text": c.text, "length": c.weighted_length, "limit": c.limit} for n, c in made.items()
            }
        except ComposeError as exc:
            decision, reason = "skip", str(exc)
    return PreviewLine(
        source=source,
        feed_id=feed.id,
        title=entry.title,
        link=entry.link,
        decision=decision,
        reason=reason,
        text=text,
        weighted_length=length,
        event=_event_json(entry),
        categories=list(entry.categories),
        published=entry.published.isoformat() if entry.published else None,
        preflight=preflight,
        post_link=link,
        networks=networks,
    )


def _event_json(entry: Entry) -> dict[str, Any] | None:
    if entry.event is None:
        return None
    return entry.event.as_json()


# What a terminal would act on rather than show: C0/C1 controls (a newline or an escape sequence
# in a title), bidi overrides and isolates (which reorder the rest of the line, Trojan-Source
# style) and invisible characters. ZWJ stays: it joins emoji.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200c\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def terminal_safe(text: str) -> str:
    """Feed text as it may be printed to a terminal: each unsafe character shown as its escape."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def human_lines(line: PreviewLine) -> list[str]:
    """The text form of one preview line: decision, reason, post, then each pre-flight check.
    Every line is terminal-safe: titles, reasons and checks quote feed text."""
    return [terminal_safe(text) for text in _human_lines(line)]


def _human_lines(line: PreviewLine) -> list[str]:
    mark = "DRAFT" if line.decision == "draft" else "skip "
    out = [f"{mark} {line.title or '(no title)'}", f"      why: {line.reason}"]
    if line.text:
        out.append(f"      post ({line.weighted_length}/280): {line.text}")
    for network, made in (line.networks or {}).items():
        if network != "x":
            out.append(f"      {network} ({made['length']}/{made['limit']}): {made['text']}")
    if line.event:
        out.append(
            f"      event: {line.event['start']}"
            + (f" at {line.event['venue']}" if line.event.get("venue") else "")
        )
    for t in line.matched:
        out.append(f"      matched: {t['found']!r} = {t['term']!r} ({t['list']})")
    for t in line.tried or []:
        seen = f"found {t['found']!r}" if t["found"] is not None else "not found"
        out.append(f"      tried {t['list']} {t['term']!r}: {seen}")
    if line.preflight:
        for check in line.preflight.get("checks", []):
            out.append(f"      {'ok' if check['ok'] else 'warning'}: {check['message']}")
    return out

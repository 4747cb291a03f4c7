"""One poll: every configured feed, concurrently, each failure isolated to its feed.

Order of writes per new entry (DESIGN.md, "Draft state machine"): the draft is
created (conditional on not existing), the approvers are notified (idempotent per
channel), and only then is the entry marked seen. A failure anywhere leaves the
entry unseen, so the next poll picks it up again and nothing is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from hookline.compose import ComposeError, compose
from hookline.config import Config, FeedConfig
from hookline.feeds import Fetcher, FetchError, ParseError, parse_feed
from hookline.linkcheck import LinkChecker, PageCheck
from hookline.models import Draft, Entry, EventData, Judgement, State
from hookline.rules import judge
from hookline.store import Store

log = logging.getLogger(__name__)


class EntryErrors(Exception):
    """Some entries of a feed could not be handled this time; they stay unseen and retry."""


class DraftNotifier(Protocol):
    def new_draft(self, draft: Draft, now: datetime, *, reminder: bool = False) -> list[str]: ...


@dataclass
class FeedReport:
    feed_id: str
    ok: bool = True
    status: str = ""
    error: str | None = None
    drafted: list[str] = field(default_factory=list)
    skipped: int = 0
    baselined: int = 0
    held: str | None = None
    failure_streak: int = 0
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, [], "")}


@dataclass
class PollReport:
    feeds: list[FeedReport] = field(default_factory=list)

    @property
    def drafted(self) -> int:
        return sum(len(f.drafted) for f in self.feeds)

    @property
    def failed(self) -> list[FeedReport]:
        return [f for f in self.feeds if not f.ok]

    def alarming(self, threshold: int) -> list[FeedReport]:
        return [f for f in self.feeds if f.failure_streak >= threshold]

    def summary(self) -> dict[str, Any]:
        return {
            "feeds": len(self.feeds),
            "drafted": self.drafted,
            "failed": [f"{f.feed_id}: {f.error}" for f in self.failed],
            "held": [f"{f.feed_id}: {f.held}" for f in self.feeds if f.held],
        }


def make_draft(
    entry: Entry,
    feed: FeedConfig,
    config: Config,
    judgement: Judgement,
    now: datetime,
    page: PageCheck | None = None,
) -> Draft:
    composed = compose(entry, feed, config, now)
    expires = now + timedelta(days=config.approval.expire_after_days)
    if entry.event and entry.event.start < expires:
        expires = entry.event.start
    return Draft(
        id=entry.key,
        feed_id=feed.id,
        state=State.PENDING,
        kind="event" if entry.event else "publication",
        source=feed.source,
        partner=feed.partner,
        title=entry.title[:1000],
        link=entry.link,
        post_link=composed.link,
        summary=entry.summary[:2000],
        categories=list(entry.categories)[:20],
        published=entry.published,
        event=EventData(start=entry.event.start, end=entry.event.end, venue=entry.event.venue)
        if entry.event
        else None,
        text=composed.text,
        composed_text=composed.text,
        weighted_length=composed.weighted_length,
        reason=judgement.reason,
        created_at=now,
        state_at=now,
        expires_at=expires,
        preflight=page.as_json() if page else None,
    )


def with_page(entry: Entry, linkcheck: LinkChecker | None) -> tuple[Entry, PageCheck | None]:
    """Fetch the linked page once: its pre-flight result, and its event data when the feed has none."""
    if linkcheck is None or not entry.link:
        return entry, None
    page = linkcheck.check(entry.link)
    if entry.event is None and page.event is not None:
        entry = dataclasses.replace(entry, event=page.event)
    return entry, page


class Poller:
    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        notifier: DraftNotifier,
        clock: Callable[[], datetime],
        *,
        check_links: bool = True,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.notifier = notifier
        self.clock = clock
        self.linkcheck = LinkChecker(fetcher, config.organisation.tz) if check_links else None

    def poll_all(self, *, time_budget: float | None = None) -> PollReport:
        """Poll every feed; stop starting new ones when the time budget (seconds) runs low."""
        deadline = time.monotonic() + time_budget if time_budget else None
        report = PollReport()
        feeds = list(self.config.feeds)
        workers = min(self.config.polling.concurrency, len(feeds)) or 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
            futures: dict[Future[FeedReport], FeedConfig] = {}
            pending = iter(feeds)
            for feed in pending:
                futures[pool.submit(self.poll_feed, feed, deadline)] = feed
                if len(futures) >= workers * 2:
                    break
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in done:
                    feed = futures.pop(future)
                    report.feeds.append(self._result(feed, future))
                    nxt = next(pending, None)
                    if nxt is not None:
                        if deadline is not None and time.monotonic() > deadline - 1:
                            report.feeds.append(
                                FeedReport(nxt.id, ok=False, error="not polled: time ran out")
                            )
                            report.feeds.extend(
                                FeedReport(f.id, ok=False, error="not polled: time ran out") for f in pending
                            )
                        else:
                            futures[pool.submit(self.poll_feed, nxt, deadline)] = nxt
        return report

    def _result(self, feed: FeedConfig, future: Future[FeedReport]) -> FeedReport:
        try:
            return future.result()
        except Exception as exc:  # a bug or an outage in one feed's run stays in that feed
            log.exception("feed poll crashed", extra={"feed": feed.id})
            return FeedReport(feed.id, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])

    def poll_feed(self, feed: FeedConfig, deadline: float | None = None) -> FeedReport:
        report = FeedReport(feed.id)
        now = self.clock()
        url = str(feed.url)
        state = self.store.feed_state(feed.id)
        first_sight = state is None or state.url is None
        moved = state is not None and state.url is not None and state.url != url
        try:
            result = self.fetcher.get(
                url,
                etag=None if (first_sight or moved) else state.etag if state else None,
                last_modified=None if (first_sight or moved) else state.last_modified if state else None,
                deadline=deadline,
            )
        except FetchError as exc:
            return self._failed(feed, report, now, f"could not fetch {url}: {exc}")
        if result.not_modified:
            report.status = "not modified"
            self.store.record_poll(feed.id, url=url, ok=True, now=now)
            return report
        try:
            parsed = parse_feed(
                result.body,
                feed_id=feed.id,
                url=result.final_url,
                headers=result.headers,
                default_tz=self.config.organisation.tz,
            )
        except ParseError as exc:
            return self._failed(feed, report, now, f"{url} is not a readable feed: {exc}")
        if parsed.problem:
            report.problem = parsed.problem
            log.warning(
                "feed is malformed; using the entries recovered",
                extra={"feed": feed.id, "problem": parsed.problem[:300]},
            )

        entries = [e for e in parsed.entries if e.identity]
        if first_sight or moved:
            report.status = "baselined (feed URL changed)" if moved else "baselined (first sight)"
            self._baseline(feed, entries, report, now)
        else:
            try:
                self._handle_new(feed, entries, report, now)
            except EntryErrors as exc:
                # Validators are not saved, so the next poll fetches the whole feed again.
                return self._failed(feed, report, now, str(exc))
        self.store.record_poll(
            feed.id,
            url=url,
            ok=True,
            now=now,
            etag=result.etag,
            last_modified=result.last_modified,
            drafts_made=len(report.drafted),
            held=report.held or "",
        )
        return report

    def _failed(self, feed: FeedConfig, report: FeedReport, now: datetime, error: str) -> FeedReport:
        report.ok = False
        report.error = error
        state = self.store.record_poll(feed.id, url=str(feed.url), ok=False, now=now, error=error)
        report.failure_streak = state.failure_streak
        log.warning(
            "feed failed", extra={"feed": feed.id, "error": error, "failure_streak": state.failure_streak}
        )
        return report

    def _baseline(self, feed: FeedConfig, entries: list[Entry], report: FeedReport, now: datetime) -> None:
        """First sight: existing entries are history, not news. Optionally draft the newest few."""
        keep = self.config.polling.initial_drafts
        if keep:
            newest = sorted(entries, key=lambda e: e.published or now, reverse=True)
            drafted = 0
            for entry in newest:
                if drafted >= keep:
                    break
                if self._handle_entry(feed, entry, report, now, record_skips=False):
                    drafted += 1
        unseen = self.store.unseen(entries)
        self.store.mark_seen(unseen, now=now)
        report.baselined = len(unseen)

    def _handle_new(self, feed: FeedConfig, entries: list[Entry], report: FeedReport, now: datetime) -> None:
        new = self.store.unseen(entries)
        limit = self.config.polling.max_new_entries
        if len(new) > limit:
            report.held = (
                f"{len(new)} new entries in one poll (limit {limit}): held for a person to check "
                f"(a site migration?). Run `python -m hookline rebaseline {feed.id}` to accept them as history."
            )
            log.warning("feed held", extra={"feed": feed.id, "new_entries": len(new)})
            return
        # Oldest first, so approvers see them in the order the site published them.
        errors = []
        for entry in sorted(new, key=lambda e: e.published or now):
            try:
                self._handle_entry(feed, entry, report, now)
            except Exception as exc:  # this entry stays unseen: the next poll retries it
                log.warning(
                    "entry not handled; will retry",
                    extra={
                        "feed": feed.id,
                        "entry": entry.key,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                    },
                )
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
        if errors:
            raise EntryErrors(
                f"{len(errors)} of {len(new)} new entries will be retried next poll ({errors[0]})"
            )

    def _handle_entry(
        self, feed: FeedConfig, entry: Entry, report: FeedReport, now: datetime, *, record_skips: bool = True
    ) -> bool:
        rules = self.config.rule_sets[feed.rules]
        entry, page = with_page(entry, self.linkcheck)
        judgement = judge(entry, feed, rules, now)
        draft = None
        if judgement.drafted:
            try:
                draft = make_draft(entry, feed, self.config, judgement, now, page)
            except ComposeError as exc:
                judgement = Judgement("skip", str(exc), judgement.rule)
        if draft is None:
            if record_skips:
                self.store.record_skip(
                    entry, judgement, now=now, keep_days=self.config.polling.skip_record_days
                )
                self.store.mark_seen([entry], now=now)
                report.skipped += 1
            return False
        created = self.store.create_draft(draft)
        stored = draft if created else self.store.get_draft(draft.id)
        if stored.state is State.PENDING:
            self.notifier.new_draft(stored, now)
        self.store.mark_seen([entry], now=now, draft_id=draft.id)
        if created:
            report.drafted.append(draft.id)
            log.info("drafted", extra={"feed": feed.id, "draft_id": draft.id, "reason": judgement.reason})
        return True

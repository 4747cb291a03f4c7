"""One poll: every configured feed, concurrently, each failure isolated to its feed.

Order of writes per new entry (docs/design.md, "The order of writes for a new entry"): the draft is
created (conditional on not existing), the approvers are notified (idempotent per
channel), and only then is the entry marked seen. A failure anywhere leaves the
entry unseen and the feed's validators forgotten, so the next poll reads the whole
feed again and picks the entry up: nothing is lost, and the draft's key (from the
entry's identity) means nothing is drafted twice.

Cost per feed: a healthy feed that answers 304 costs one conditional GET and a share
of one batched write (its poll-record time), with no parse. Feed records are read in
one batch at the start of the poll.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from hookline.clock import human_time
from hookline.compose.measure import ComposeError
from hookline.config import Config, FeedConfig
from hookline.models import Draft, Entry, Judgement, State
from hookline.poll.drafting import Assessment, assess, entry_from_skip, make_draft, with_page
from hookline.poll.feeds import ParseError, parse_fetched
from hookline.poll.fetch import Fetcher, FetchError
from hookline.poll.instance import mastodon_limits
from hookline.poll.linkcheck import LinkChecker
from hookline.poll.report import FeedReport, PollReport
from hookline.store import NOT_MODIFIED_CHUNK, FeedState, PollStore

if TYPE_CHECKING:
    from hookline.publish.networks.http import Transport

log = logging.getLogger(__name__)

# Where each part of a poll lives, for the callers that know them by this module.
__all__ = [
    "Assessment",
    "DraftNotifier",
    "EntryErrors",
    "FeedReport",
    "PollReport",
    "Poller",
    "SkipNotDrafted",
    "assess",
    "entry_from_skip",
    "make_draft",
    "with_page",
]

# After the poll's deadline, how long to wait for feeds still finishing a write before
# the poll returns without them (the function's own timeout comes after this margin).
GRACE_SECONDS = 3.0
_NEVER = datetime.min.replace(tzinfo=UTC)


class EntryErrors(Exception):
    """Some entries of a feed could not be handled this time; they stay unseen and retry."""


class SkipNotDrafted(Exception):
    """A skip a person asked to draft could not be drafted; the reason is on its record."""


class DraftNotifier(Protocol):
    def new_draft(self, draft: Draft, now: datetime, *, reminder: bool = False) -> list[str]: ...


@dataclass
class _Run:
    """What the feeds of one poll share: its deadline, its page checker, its batched 304 records."""

    fetcher: Fetcher
    linkcheck: LinkChecker | None
    deadline: float | None
    states: dict[str, FeedState] | None = None
    not_modified: list[str] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The Mastodon server's limits, read when the poll's first draft needs them (not per 304).
    limits: Callable[[], tuple[int, int] | None] | None = None
    _limits: list[tuple[int, int] | None] = field(default_factory=list)

    def mastodon_limits(self) -> tuple[int, int] | None:
        with self.lock:
            if not self._limits and self.limits is not None:
                self._limits.append(self.limits())
            return self._limits[0] if self._limits else None

    def time_left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


class Poller:
    def __init__(
        self,
        config: Config,
        store: PollStore,
        fetcher: Fetcher,
        notifier: DraftNotifier,
        clock: Callable[[], datetime],
        *,
        check_links: bool = True,
        mastodon_http: Transport | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self.notifier = notifier
        self.clock = clock
        self.check_links = check_links
        self.mastodon_http = mastodon_http  # tests intercept the server's instance answer here

    def _run(self, deadline: float | None) -> _Run:
        fetcher = self.fetcher.bounded(deadline)
        # One page checker per poll: its cache (pages, robots.txt) lasts one poll, not a warm container's life.
        linkcheck = (
            LinkChecker(fetcher, self.config.organisation.tz, clock=self.clock) if self.check_links else None
        )
        limits = functools.partial(mastodon_limits, self.config, self.store, self.clock(), self.mastodon_http)
        return _Run(fetcher, linkcheck, deadline, limits=limits)

    def poll_all(self, *, time_budget: float | None = None) -> PollReport:
        """Poll every feed, at most `polling.concurrency` at once, and return within
        `time_budget` seconds (plus a short grace for writes in flight)."""
        deadline = time.monotonic() + time_budget if time_budget else None
        run = self._run(deadline)
        run.not_modified = []
        feeds = list(self.config.feeds)
        run.states = self.store.feed_states_for([f.id for f in feeds])
        # Healthy feeds first, then least recently polled first: a feed that failed last time
        # (often a slow one) cannot hold up the others, and when time runs short the same
        # feeds do not always miss out.
        feeds.sort(key=lambda f: _order(run.states, f.id))
        report = PollReport()
        workers = max(1, min(self.config.polling.concurrency, len(feeds)))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
        futures: dict[Future[FeedReport], FeedConfig] = {}
        try:
            futures = {pool.submit(self._poll_feed, feed, run): feed for feed in feeds}
            # as_completed watches every future once; a wait() per result would cost
            # O(feeds) each time, which with hundreds of feeds is measurable CPU.
            timeout = None if deadline is None else max(0.0, deadline + GRACE_SECONDS - time.monotonic())
            try:
                for future in as_completed(futures, timeout=timeout):
                    report.feeds.append(self._result(futures[future], future))
                    self._flush_not_modified(run, minimum=NOT_MODIFIED_CHUNK)
            except FuturesTimeout:  # the deadline and its grace have passed
                finished = {r.feed_id for r in report.feeds}
                for future, feed in futures.items():
                    if feed.id in finished:
                        continue
                    started = not future.cancel()
                    error = (
                        "still running when the poll's time ran out; the next poll tries again"
                        if started
                        else "not polled: the poll's time ran out first"
                    )
                    log.warning("feed not finished", extra={"feed": feed.id, "error": error})
                    timed_out = FeedReport(feed.id, ok=False, status="timed out", error=error)
                    if started:
                        # A feed stuck past the deadline (a parse that will not end) is that
                        # feed's failure: recorded, so its streak and its alarm count it.
                        try:
                            timed_out.failure_streak = self.store.record_poll(
                                feed.id, url=str(feed.url), ok=False, now=self.clock(), error=error
                            ).failure_streak
                        except Exception as exc:
                            log.error(
                                "could not record a timed-out feed",
                                extra={"feed": feed.id, "error": f"{type(exc).__name__}: {exc}"[:300]},
                            )
                    report.feeds.append(timed_out)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            self._flush_not_modified(run, minimum=1)
        return report

    def _flush_not_modified(self, run: _Run, *, minimum: int) -> None:
        with run.lock:
            if run.not_modified is None or len(run.not_modified) < minimum:
                return
            batch, run.not_modified[:] = list(run.not_modified), []
        try:
            self.store.record_not_modified(batch, now=self.clock())
        except Exception as exc:  # only the times of healthy, unchanged feeds are at stake
            log.error(
                "could not record the polls of unchanged feeds",
                extra={"feeds": len(batch), "error": f"{type(exc).__name__}: {exc}"[:300]},
            )

    def _result(self, feed: FeedConfig, future: Future[FeedReport]) -> FeedReport:
        try:
            return future.result()
        except Exception as exc:  # a bug or an outage in one feed's run stays in that feed
            log.exception("feed poll crashed", extra={"feed": feed.id})
            return FeedReport(feed.id, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])

    def poll_feed(self, feed: FeedConfig, deadline: float | None = None) -> FeedReport:
        """Poll one feed on its own (its records written at once)."""
        return self._poll_feed(feed, self._run(deadline))

    def _poll_feed(self, feed: FeedConfig, run: _Run) -> FeedReport:
        report = FeedReport(feed.id)
        if run.time_left() <= 0:
            report.ok = False
            report.status = "timed out"
            report.error = "not polled: the poll's time ran out first"
            return report
        now = self.clock()
        url = str(feed.url)
        state = run.states.get(feed.id) if run.states is not None else self.store.feed_state(feed.id)
        first_sight = state is None or state.url is None
        moved = state is not None and state.url is not None and state.url != url
        etag = state.etag if state and not (first_sight or moved) else None
        last_modified = state.last_modified if state and not (first_sight or moved) else None
        try:
            result = run.fetcher.get(url, etag=etag, last_modified=last_modified, configured=True)
        except FetchError as exc:
            return self._failed(feed, report, now, f"could not fetch {url}: {exc}")
        if result.not_modified and not (etag or last_modified):
            # Nothing was asked conditionally: a 304 here would leave the feed unread for ever.
            return self._failed(
                feed, report, now, f"could not fetch {url}: HTTP 304 to a request that was not conditional"
            )
        if result.not_modified:
            report.status = "not modified"
            if state is not None and state.healthy and run.not_modified is not None:
                with run.lock:
                    run.not_modified.append(feed.id)
            elif state is not None and state.healthy:
                self.store.record_not_modified([feed.id], now=now)
            else:
                self.store.record_poll(feed.id, url=url, ok=True, now=now, keep_held=True)
            return report
        try:
            parsed = parse_fetched(result, feed_id=feed.id, default_tz=self.config.organisation.tz)
        except ParseError as exc:
            return self._failed(feed, report, now, f"{url} is not a readable feed: {exc}", forget=True)
        if parsed.problem:
            report.problem = parsed.problem
            if state is None or state.problem != parsed.problem:
                # Logged when it appears or changes, not on every poll of a feed that stays broken.
                log.warning(
                    "feed is malformed; using the entries recovered",
                    extra={"feed": feed.id, "problem": parsed.problem[:300], "entries": len(parsed.entries)},
                )

        entries = [e for e in parsed.entries if e.identity]
        if first_sight or moved:
            report.status = "baselined (feed URL changed)" if moved else "baselined (first sight)"
            self._baseline(feed, entries, report, now, run)
        else:
            report.status = "read"
            try:
                self._handle_new(feed, entries, report, now, run, state)
            except EntryErrors as exc:
                return self._failed(feed, report, now, str(exc), problem=parsed.problem, forget=True)
        self.store.record_poll(
            feed.id,
            url=url,
            ok=True,
            now=now,
            etag=result.etag,
            last_modified=result.last_modified,
            drafts_made=len(report.drafted),
            held=report.held,
            problem=parsed.problem,
            # A held feed is read in full every poll, so the hold lasts while the cause does.
            forget_validators=bool(report.held),
        )
        return report

    def _failed(
        self,
        feed: FeedConfig,
        report: FeedReport,
        now: datetime,
        error: str,
        *,
        problem: str | None = None,
        forget: bool = False,
    ) -> FeedReport:
        report.ok = False
        report.error = error
        state = self.store.record_poll(
            feed.id,
            url=str(feed.url),
            ok=False,
            now=now,
            error=error,
            drafts_made=len(report.drafted),
            problem=problem,
            forget_validators=forget,
        )
        report.failure_streak = state.failure_streak
        log.warning(
            "feed failed", extra={"feed": feed.id, "error": error, "failure_streak": state.failure_streak}
        )
        return report

    def _baseline(
        self, feed: FeedConfig, entries: list[Entry], report: FeedReport, now: datetime, run: _Run
    ) -> None:
        """First sight: existing entries are history, not news. Optionally draft the newest few."""
        keep = self.config.polling.initial_drafts
        if keep:
            newest = sorted(entries, key=lambda e: e.published or now, reverse=True)
            drafted = 0
            for entry in newest:
                if drafted >= keep:
                    break
                if self._handle_entry(feed, entry, report, now, run, record_skips=False):
                    drafted += 1
        unseen = self.store.unseen(entries)
        self.store.mark_seen(unseen, now=now)
        report.baselined = len(unseen)

    def _handle_new(
        self,
        feed: FeedConfig,
        entries: list[Entry],
        report: FeedReport,
        now: datetime,
        run: _Run,
        state: FeedState | None,
    ) -> None:
        new = self.store.unseen(entries)
        limit = self.config.polling.max_new_entries
        if len(new) > limit:
            report.held = (
                f"{len(new)} new entries in one poll (limit {limit}): held for a person to check "
                f"(a site migration?). Run `python -m hookline rebaseline {feed.id}` to accept them as history."
            )
            if state is None or not state.held:
                log.warning("feed held", extra={"feed": feed.id, "new_entries": len(new), "limit": limit})
            return
        # Oldest first, so approvers see them in the order the site published them.
        errors = []
        ordered = sorted(new, key=lambda e: e.published or now)
        for done, entry in enumerate(ordered):
            if run.time_left() <= 0:
                errors.append(f"the poll's time ran out with {len(ordered) - done} left")
                break
            try:
                self._handle_entry(feed, entry, report, now, run)
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
            handled = len(report.drafted) + report.skipped
            raise EntryErrors(
                f"{len(new) - handled} of {len(new)} new entries will be retried next poll ({errors[0]})"
            )

    def draft_skip(self, feed_id: str, key: str, by: str) -> str:
        """See _draft_skip. A failure other than a refusal (DynamoDB, a bug) releases the
        request, so the queue page offers Draft this again instead of "being drafted" for ever."""
        try:
            return self._draft_skip(feed_id, key, by)
        except SkipNotDrafted:
            raise
        except Exception:
            log.exception("drafting a skip failed; the request is released", extra={"feed": feed_id})
            with contextlib.suppress(Exception):
                self.store.release_skip_request(feed_id, key)
            raise

    def _draft_skip(self, feed_id: str, key: str, by: str) -> str:
        """Draft a skipped entry a person asked for from the queue page, as the poll drafts:
        its linked page fetched (pre-flight, event data), composed, stored PENDING with
        "drafted by hand from a skip by NAME" in its history, and approvers notified.
        Returns the draft id; SkipNotDrafted (with the reason recorded on the skip) otherwise."""
        now = self.clock()
        record = self.store.skip_record(feed_id, key)
        if record is None:
            raise SkipNotDrafted(f"no kept skip {feed_id}/{key} (its record expired?)")
        if record.get("draft_id"):
            return str(record["draft_id"])  # a retried invocation: already done
        feed = self.config.feed(feed_id)

        def refuse(why: str) -> SkipNotDrafted:
            self.store.settle_skip(feed_id, key, now=now, error=why)
            log.warning("skip not drafted", extra={"feed": feed_id, "entry": key, "why": why})
            return SkipNotDrafted(why)

        if feed is None:
            raise refuse(f"the feed {feed_id!r} is no longer in the config")
        run = self._run(None)
        entry, page = with_page(entry_from_skip(record), run.linkcheck)
        if entry.event is not None and entry.event.start <= now:
            raise refuse(f"the event started {human_time(entry.event.start, self.config.organisation.tz)}")
        reason = f"drafted by hand from a skip by {by} (the rules said: {record.get('reason', '')})"
        judgement = Judgement("draft", reason, record.get("rule"), record.get("term"))
        try:
            draft = make_draft(
                entry, feed, self.config, judgement, now, page, mastodon_limits=run.mastodon_limits()
            )
        except ComposeError as exc:
            raise refuse(str(exc)) from None
        draft = draft.model_copy(update={"by_hand": by})
        self.store.create_draft(draft, actor=by)
        stored = self.store.get_draft(draft.id)
        if stored.state is State.PENDING:
            self.notifier.new_draft(stored, now)
        self.store.mark_seen([entry], now=now, draft_id=draft.id)
        self.store.settle_skip(feed_id, key, now=now, draft_id=draft.id)
        log.info("drafted by hand", extra={"feed": feed_id, "draft_id": draft.id})
        return draft.id

    def _handle_entry(
        self,
        feed: FeedConfig,
        entry: Entry,
        report: FeedReport,
        now: datetime,
        run: _Run,
        *,
        record_skips: bool = True,
    ) -> bool:
        assessed = assess(entry, feed, self.config, now, run.linkcheck)
        entry, judgement, page = assessed.entry, assessed.judgement, assessed.page
        draft = None
        if judgement.drafted:
            try:
                draft = make_draft(
                    entry, feed, self.config, judgement, now, page, mastodon_limits=run.mastodon_limits()
                )
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
        if created:
            report.drafted.append(draft.id)
            log.info("drafted", extra={"feed": feed.id, "draft_id": draft.id, "reason": judgement.reason})
        stored = draft if created else self.store.get_draft(draft.id)
        if stored.state is State.PENDING:
            self.notifier.new_draft(stored, now)
        self.store.mark_seen([entry], now=now, draft_id=draft.id)
        return True


def _order(states: dict[str, FeedState] | None, feed_id: str) -> tuple[bool, datetime]:
    state = (states or {}).get(feed_id)
    if state is None:
        return False, _NEVER
    return bool(state.failure_streak), state.last_poll or _NEVER

"""The publisher: what an idle run costs in DynamoDB requests, how long a run takes, how fast
the handler module imports, and what two publishers racing over a queue do."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import responses

from local import dynamodb
from tests.bench import ROOT, Report
from tests.bench.lambda_runtime import percentile
from tests.conftest import NOW, Clock, make_config
from tests.support.publishing import UNPACED, Publisher, approved
from tests.support.x import XFake


def _count_requests(client: Any) -> list[str]:
    seen: list[str] = []
    client.meta.events.register("before-call.dynamodb.*", lambda model, **_: seen.append(model.name))
    return seen


def one_attempt() -> Any:
    """time_left for a run with room for exactly one attempt (as a Lambda near its end)."""
    calls = iter([21.0, 21.0])
    return lambda: next(calls, 0.0)


def run(report: Report) -> None:
    section = report.section(
        "Publisher",
        "DynamoDB Local (the real engine) on this machine, X intercepted at the HTTP transport "
        "(`responses`, answering from tweepy's cassettes), the real TweepyPoster and publish_due; "
        "DynamoDB requests counted with a botocore event hook. Import time is a fresh "
        "`python -c 'import functions.publish.app'`, best of 5.",
    )
    from hookline.store import Store

    server = dynamodb.start()
    try:
        client = server.client()
        requests_seen = _count_requests(client)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            x_api = XFake(mock)

            # An idle run: nothing approved (the common case, every 5 minutes)
            store = Store(server.create_table(), client=client, clock=Clock())
            publisher = Publisher(store, make_config(), store.clock)
            requests_seen.clear()
            publisher.run()
            report.figure(section, "publish_idle_dynamodb_requests", len(requests_seen), "requests/run")
            idle = []
            for _ in range(20):
                start = time.perf_counter()
                publisher.run()
                idle.append(time.perf_counter() - start)
            report.figure(section, "publish_idle_run_p50", statistics.median(idle) * 1000, "ms")

            # One post per run: claim, post, record, with the account check cached
            clock = Clock()
            store = Store(server.create_table(), client=client, clock=clock)
            config = make_config(
                pacing={"min_spacing_minutes": 0, "daily_cap": 100, "monthly_spend_cap_usd": 100}
            )
            publisher = Publisher(store, config, clock)
            for n in range(21):
                approved(store, f"Bench report {n}", at=NOW - timedelta(hours=30 - n))
            publisher.run(time_left=one_attempt())  # warms up: the account check, one post
            timings, counts = [], []
            for _ in range(20):
                requests_seen.clear()
                start = time.perf_counter()
                assert len(publisher.run(time_left=one_attempt()).published) == 1
                timings.append(time.perf_counter() - start)
                counts.append(len(requests_seen))
            report.figure(section, "publish_one_post_run_p50", statistics.median(timings) * 1000, "ms")
            # the tail, for the old 5-minute schedule's approve -> posted (the 'End to end' section)
            report.figure(section, "publish_one_post_run_p95", percentile(timings, 95) * 1000, "ms")
            report.figure(
                section, "publish_one_post_dynamodb_requests", statistics.median(counts), "requests/run"
            )

            # Two publishers racing over 40 approved drafts
            clock = Clock()
            store = Store(server.create_table(), client=client, clock=clock)
            drafts = [
                approved(store, f"Race report {n}", at=NOW - timedelta(hours=50 - n)) for n in range(40)
            ]
            x_api.sent.clear()
            racers = [Publisher(store, make_config(**UNPACED), clock) for _ in range(2)]
            barrier = threading.Barrier(2)

            def race(p: Publisher) -> None:
                barrier.wait()
                p.run()

            start = time.perf_counter()
            threads = [threading.Thread(target=race, args=(p,)) for p in racers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            texts = {d.text for d in drafts}
            sent = [
                s.body["text"] for s in x_api.sent if s.url.endswith("/2/tweets") and s.body["text"] in texts
            ]
            report.figure(section, "publish_race_drafts_posted", len(set(sent)), "of 40")
            report.figure(section, "publish_race_duplicate_sends", len(sent) - len(set(sent)), "sends")
            report.figure(section, "publish_race_wall", elapsed, "s")
    finally:
        server.stop()

    imports = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import functions.publish.app"],
            cwd=ROOT,
            check=True,
            # Bytecode beside the test artefacts, not in functions/: every folder there is a function.
            env={
                "PYTHONPATH": f"{ROOT}/layers/hookline:{ROOT}",
                "PATH": "/usr/bin:/bin",
                "PYTHONPYCACHEPREFIX": str(ROOT / "test-artifacts" / "pycache"),
            },
        )
        imports.append(time.perf_counter() - start)
    report.figure(section, "publish_handler_import", min(imports) * 1000, "ms")
    section.verdict.append(
        "An idle run (nothing due) makes no X request; tweepy is imported only when a post is due."
    )

"""What a cold start costs: deploy size, the handlers' cold initialisation against a process that
only imports boto3, and cold initialisation plus the first request (what the first user waits
for), all on the artefacts `make build` deploys, run the way Lambda runs them
(tests/bench/lambda_runtime.py)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from local import dynamodb
from local.webserver import Resource, WebServer
from tests.bench import Report
from tests.bench import lambda_runtime as lr

INIT_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "21"))
FIRST_RUNS = int(os.environ.get("BENCH_FIRST_RUNS", "15"))
SIZE_LIMIT_MB = 20.0
INIT_TARGETS = {"approvals": 1.5, "poll_feeds": 2.0, "publish": 2.0}
POLL_FEEDS = 50
FEED_LATENCY = 0.05
NAMES = {"approvals": "approvals", "poll_feeds": "poll", "publish": "publish"}


def run(report: Report) -> None:
    build = lr.build()
    sizes(report, build)
    cold_init(report, build)
    first_request(report, build)


# -- deploy size ------------------------------------------------------------------------------------


def sizes(report: Report, build: lr.Build) -> None:
    section = report.section(
        "Deploy size",
        "`sam build` of template.yaml (python3.13 wheels for x86_64, boto3 not bundled: the runtime "
        "has it), then `tools/optimise_build.py` as `make build` runs it. Unzipped: the bytes of the "
        "function's folder plus its two layers (the hookline layer and the config layer), which is "
        "what Lambda's 250 MB limit counts. Zipped: each folder deflated as `sam deploy` packages it. "
        f"The raw `sam build` output is measured beside it. Target: at most {SIZE_LIMIT_MB:.0f} MB "
        "unzipped per function.",
    )
    section.table = [
        ["function", "unzipped, as `make build` deploys it", "zipped", "unzipped, raw `sam build`"]
    ]
    for function, name in NAMES.items():
        deployed = lr.unzipped_bytes(lr.folders(build.deployed, function)) / 1e6
        raw = lr.unzipped_bytes(lr.folders(build.raw, function)) / 1e6
        zipped = sum(lr.zipped_bytes(f) for f in lr.folders(build.deployed, function)) / 1e6
        report.figure(section, f"size_{name}_unzipped", deployed, "MB")
        report.figure(section, f"size_{name}_zipped", zipped, "MB")
        report.figure(section, f"size_{name}_sam_build_unzipped", raw, "MB")
        section.table.append([name, f"{deployed:.2f} MB", f"{zipped:.2f} MB", f"{raw:.2f} MB"])
        report.target(
            f"{name}: function + layers, unzipped",
            f"{deployed:.2f} MB",
            f"raw sam build: {raw:.2f} MB",
            f"{deployed / SIZE_LIMIT_MB:.2f} of the limit",
            f"≤ {SIZE_LIMIT_MB:.0f} MB",
            deployed <= SIZE_LIMIT_MB,
        )
    layer = lr.unzipped_bytes([build.deployed / "HooklineLayer"]) / 1e6
    report.figure(section, "size_hookline_layer_unzipped", layer, "MB")
    section.verdict.append(
        f"The hookline layer is {layer:.1f} MB of each function's total: pydantic-core, powertools and "
        "regex are most of it. Installed packages ship as bytecode in place of their sources, so "
        "precompiling costs no size; stripping the regex wheel's debug sections saves 1.7 MB."
    )


# -- cold initialisation ------------------------------------------------------------------------------


def _interleaved(variants: dict[str, Callable[[], lr.Run]], rounds: int) -> dict[str, list[lr.Run]]:
    """Each round runs every variant once, so the load of this shared machine falls on all alike."""
    runs: dict[str, list[lr.Run]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, start in variants.items():
            runs[name].append(start())
    return runs


def _paired_ratio(runs: list[lr.Run], base: list[lr.Run], value: Callable[[lr.Run], float]) -> float:
    """Median of the round-by-round ratios (each handler run against the baseline run beside it)."""
    return lr.spread([value(r) / value(b) for r, b in zip(runs, base, strict=True)]).median


def cold_init(report: Report, build: lr.Build) -> None:
    section = report.section(
        "Cold initialisation",
        f"{INIT_RUNS} fresh processes per variant, interleaved round by round so the load of this shared "
        "2-core machine falls on all alike; median, and the 10th–90th percentile range in brackets. "
        "Each process is Lambda's python3.13 (with boto3) importing the handler module "
        "(`import app`: its imports and module-level set-up, which is Lambda's INIT) from the built "
        "artefacts, files stamped 1980 as sam's zip leaves them and nothing able to write bytecode, "
        "with the function's production environment from template.yaml (HOOKLINE_CONFIG pointing at "
        "the JSON the config layer ships, HOOKLINE_TABLE, the secret names, POWERTOOLS_*). The baseline "
        "is the same interpreter doing only `import boto3` (which Lambda's runtime has anyway). "
        "`process` is the whole process from spawn to exit (interpreter start included, as for the "
        "baseline); `CPU` is its user+system time, steadier on a shared machine and equal to the wall "
        "time on an idle core, since the import never waits for I/O. Ratios are the median of the "
        "round-by-round ratios. `raw sam build` is the same handler from the unoptimised artefacts.",
    )
    env = {f: lr.production_env(f, build.deployed, "hookline-Table-1A2B3C") for f in NAMES}
    raw_env = {f: lr.production_env(f, build.raw, "hookline-Table-1A2B3C") for f in NAMES}
    variants: dict[str, Callable[[], lr.Run]] = {
        "boto3": lambda: lr.run("import-boto3", [], lr.baseline_env()),
    }
    for function in NAMES:
        variants[function] = lambda f=function: lr.run("import-app", [], env[f])  # type: ignore[misc]
        variants[f"{function}_raw"] = lambda f=function: lr.run("import-app", [], raw_env[f])  # type: ignore[misc]
    runs = _interleaved(variants, INIT_RUNS)

    base = runs["boto3"]
    base_wall, base_cpu = lr.spread([r.wall for r in base]), lr.spread([r.cpu for r in base])
    report.figure(section, "cold_init_boto3_process", base_wall.median * 1000, "ms")
    report.figure(section, "cold_init_boto3_cpu", base_cpu.median * 1000, "ms")
    section.table = [
        [
            "process",
            "process wall",
            "CPU",
            "× boto3 (wall)",
            "× boto3 (CPU)",
            "import only",
            "raw sam build (wall)",
        ],
        ["`import boto3` (baseline)", base_wall.ms(), base_cpu.ms(), "1", "1", "", ""],
    ]
    for function, name in NAMES.items():
        mine, raw = runs[function], runs[f"{function}_raw"]
        wall, cpu = lr.spread([r.wall for r in mine]), lr.spread([r.cpu for r in mine])
        raw_wall = lr.spread([r.wall for r in raw])
        inner = lr.spread([r.init_wall for r in mine])
        ratio_wall = _paired_ratio(mine, base, lambda r: r.wall)
        ratio_cpu = _paired_ratio(mine, base, lambda r: r.cpu)
        report.figure(section, f"cold_init_{name}_process", wall.median * 1000, "ms")
        report.figure(section, f"cold_init_{name}_cpu", cpu.median * 1000, "ms")
        report.figure(section, f"cold_init_{name}_import", inner.median * 1000, "ms")
        report.figure(section, f"cold_init_{name}_vs_boto3", ratio_wall, "x")
        report.figure(section, f"cold_init_{name}_vs_boto3_cpu", ratio_cpu, "x")
        report.figure(section, f"cold_init_{name}_raw_sam_build_process", raw_wall.median * 1000, "ms")
        section.table.append(
            [
                f"`{name}` handler",
                wall.ms(),
                cpu.ms(),
                f"{ratio_wall:.2f}",
                f"{ratio_cpu:.2f}",
                inner.ms(),
                raw_wall.ms(),
            ]
        )
        limit = INIT_TARGETS[function]
        report.target(
            f"{name}: cold init (fresh process)",
            f"{wall.median * 1000:.0f} ms (CPU {cpu.median * 1000:.0f} ms)",
            f"`import boto3`: {base_wall.median * 1000:.0f} ms (CPU {base_cpu.median * 1000:.0f} ms)",
            f"{ratio_wall:.2f}× (CPU {ratio_cpu:.2f}×)",
            f"≤ {limit}×",
            ratio_wall <= limit and ratio_cpu <= limit,
        )
    gain = (
        lr.spread([r.wall for r in runs["approvals_raw"]]).median
        / lr.spread([r.wall for r in runs["approvals"]]).median
    )
    section.verdict.append(
        f"Precompiled bytecode (tools/optimise_build.py) makes the approvals handler's cold init {gain:.1f}× "
        "faster than the raw `sam build` artefacts, which make Python compile every module from source on "
        "every cold start."
    )


# -- cold init plus the first request -----------------------------------------------------------------


CUSTOM_METRICS: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()  # every metric the runs emitted


def _metrics(output: Path) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The CloudWatch custom metrics in a run's embedded-metric-format output: each distinct
    namespace, name and dimension values is one metric on the bill."""
    found = set()
    for line in output.read_text(errors="replace").splitlines():
        if '"_aws"' not in line:
            continue
        try:
            blob = json.loads(line)
        except ValueError:
            continue
        for group in blob["_aws"].get("CloudWatchMetrics", []):
            for dims in group.get("Dimensions", [[]]):
                values = tuple(sorted((d, str(blob.get(d))) for d in dims))
                for metric in group.get("Metrics", []):
                    found.add((group["Namespace"], metric["Name"], values))
    return found


def _events(name: str) -> list[dict[str, Any]]:
    return [json.loads((lr.ROOT / "events" / f"{name}.json").read_text(encoding="utf-8"))]


def first_request(report: Report, build: lr.Build) -> None:
    from hookline.store import Store
    from tests.support.drafts import add_draft, signer
    from tests.support.events import api_event

    section = report.section(
        "Cold start plus the first request",
        f"What the first user (or schedule) after a cold start waits for: {FIRST_RUNS} fresh processes "
        "per variant, interleaved, each importing the handler (INIT) and then calling `lambda_handler` "
        "twice: the cold request and a warm one. Same artefacts, interpreter and production environment "
        "as above; AWS answers locally: DynamoDB Local (the real engine, so a request costs a local round "
        "trip, not a network one) and a Secrets Manager stand-in for the link-signing key "
        "(`AWS_ENDPOINT_URL_*`, so the production code path runs unchanged). Times are inside the "
        "process (INIT + first call), the way Lambda reports Init Duration + Duration. The approvals "
        "requests are the API Gateway v2 event from events/approvals.json: GET the review page of a "
        "pending draft with an approver's link, and POST approve on a fresh pending draft each run. "
        f"The poll is {POLL_FEEDS} feeds on a local web server answering after {FEED_LATENCY * 1000:.0f} ms, "
        "at the production default concurrency, all 304 Not Modified (the usual poll: the table already "
        "holds their ETags). The publish run has nothing due (the usual run). The baseline is the least "
        "a DynamoDB-backed handler does: `import boto3` and a client at INIT, one GetItem on the first "
        "request. Peak memory is the process's maximum resident set.",
    )
    server = dynamodb.start()
    web = WebServer().start()
    try:
        with lr.SecretsManager() as secrets, tempfile.TemporaryDirectory(prefix="hookline-first-") as scratch:
            work = Path(scratch)
            local = {
                "AWS_ENDPOINT_URL_DYNAMODB": server.endpoint,
                "AWS_ENDPOINT_URL_SECRETS_MANAGER": secrets.endpoint,
            }
            config = json.loads((build.deployed / "ConfigLayer" / "hookline.json").read_text())
            approver = config["approvers"][0]["email"]
            links = signer(lr.SIGNING_KEY)
            now = datetime.now(UTC)

            # approvals: one table, a fresh pending draft per run
            approvals_table = server.create_table()
            store = Store(approvals_table, client=server.client())
            # per timed run one each for GET, POST and raw GET; two for the counted runs; the last for warm GETs
            drafts = [add_draft(store, now, identity=f"cold-start-{i}") for i in range(FIRST_RUNS * 3 + 3)]

            def approvals_events(i: int, method: str) -> Path:
                draft = drafts[i]
                token = links.decide_token(draft, approver)
                if method == "GET":
                    cold = api_event("GET", f"/drafts/{draft.id}?token={quote(token)}")
                else:
                    cold = api_event("POST", f"/drafts/{draft.id}", {"token": token, "action": "approve"})
                warm = api_event(
                    "GET", f"/drafts/{drafts[-1].id}?token={quote(links.decide_token(drafts[-1], approver))}"
                )
                path = work / f"approvals-{method}-{i}.json"
                path.write_text(json.dumps([cold, warm]))
                return path

            # publish: a table with nothing due
            publish_table = server.create_table()
            publish_events = work / "publish.json"
            publish_events.write_text(json.dumps(_events("publish") * 2))

            # poll: feeds that answer 304 once the first poll has stored their ETags
            poll_table = server.create_table()
            feeds = []
            for i in range(POLL_FEEDS):
                body = (
                    f"<?xml version='1.0'?><rss version='2.0'><channel><title>Feed {i}</title>"
                    f"<link>{web.base_url}</link><description>bench</description></channel></rss>"
                ).encode()
                url = web.add(f"/feeds/{i}.xml", Resource(body=body, delay=FEED_LATENCY))
                feeds.append(
                    {"id": f"feed-{i:02d}", "url": url, "kind": "publication", "rules": "publications"}
                )
            poll_config = work / "poll-config.json"
            poll_config.write_text(json.dumps({**config, "feeds": feeds}))
            poll_events = work / "poll.json"
            poll_events.write_text(json.dumps(_events("poll_feeds") * 2))

            def env(function: str, table: str, tree: Path | None = None) -> dict[str, str]:
                return {**lr.production_env(function, tree or build.deployed, table), **local}

            poll_env = {
                **env("poll_feeds", poll_table),
                "HOOKLINE_CONFIG": str(poll_config),
                "BENCH_TIMEOUT": "120",
            }
            lr.run("import-app", [str(poll_events)], poll_env)  # the first poll ever: stores the ETags

            counter = {"GET": 0, "POST": 0, "GET_raw": 0}

            def approvals(method: str, raw: bool = False) -> lr.Run:
                key = f"{method}_raw" if raw else method
                index = counter[key] + {"GET": 0, "POST": FIRST_RUNS, "GET_raw": 2 * FIRST_RUNS}[key]
                counter[key] += 1
                tree = build.raw if raw else build.deployed
                return lr.run(
                    "import-app",
                    [str(approvals_events(index, method))],
                    env("approvals", approvals_table, tree),
                )

            variants: dict[str, Callable[[], lr.Run]] = {
                "baseline": lambda: lr.run(
                    "boto3-getitem", [approvals_table], {**lr.baseline_env(), **local}
                ),
                "approvals_get": lambda: approvals("GET"),
                "approvals_post": lambda: approvals("POST"),
                "approvals_get_raw": lambda: approvals("GET", raw=True),
                "publish": lambda: lr.run("import-app", [str(publish_events)], env("publish", publish_table)),
                "poll": lambda: lr.run("import-app", [str(poll_events)], poll_env),
            }
            runs = _interleaved(variants, FIRST_RUNS)
            assert all(r.calls[0]["status"] == 200 for r in runs["approvals_get"] + runs["approvals_post"]), (
                "an approvals request failed"
            )
            # One more run of each, untimed, counting the AWS requests of the warm call and keeping
            # the metrics the handler emits (for the costs section).
            counted = {}
            for key in ("approvals_get", "approvals_post", "publish", "poll"):
                output = work / f"{key}.out"
                counting = {"BENCH_COUNT_REQUESTS": "1"}
                if key.startswith("approvals"):
                    method = "GET" if key.endswith("get") else "POST"
                    events = approvals_events(3 * FIRST_RUNS + (0 if method == "GET" else 1), method)
                    done = lr.run(
                        "import-app", [str(events)], {**env("approvals", approvals_table), **counting}, output
                    )
                elif key == "publish":
                    done = lr.run(
                        "import-app",
                        [str(publish_events)],
                        {**env("publish", publish_table), **counting},
                        output,
                    )
                else:
                    done = lr.run("import-app", [str(poll_events)], {**poll_env, **counting}, output)
                # the warm call's requests; for the POST run, the decision itself (its second call is a GET)
                call = done.calls[0] if key == "approvals_post" else done.calls[-1]
                counted[key] = (
                    call.get("requests", {}),
                    _metrics(output),
                    output.stat().st_size / len(done.calls),
                )
    finally:
        web.stop()
        server.stop()

    base = runs["baseline"]
    base_first = lr.spread([r.first_wall for r in base])
    report.figure(section, "first_request_baseline_boto3_getitem", base_first.median * 1000, "ms")
    section.table = [
        [
            "what",
            "INIT + first request",
            "CPU",
            "× baseline",
            "of which INIT",
            "next (warm) request",
            "peak memory",
        ],
        [
            "baseline: boto3 + one GetItem",
            base_first.ms(),
            lr.spread([r.first_cpu for r in base]).ms(),
            "1",
            lr.spread([r.init_wall for r in base]).ms(),
            "",
            f"{max(r.maxrss_mb for r in base):.0f} MB",
        ],
    ]
    labels = {
        "approvals_get": ("approvals: GET review page", "approvals_get"),
        "approvals_post": ("approvals: POST approve", "approvals_post"),
        "approvals_get_raw": ("approvals: GET review page, raw `sam build`", "approvals_get_raw_sam_build"),
        "publish": ("publish: run with nothing due", "publish_idle"),
        "poll": (f"poll: {POLL_FEEDS} feeds, 304", "poll_50_feeds"),
    }
    for key, (label, name) in labels.items():
        mine = runs[key]
        first = lr.spread([r.first_wall for r in mine])
        ratio = _paired_ratio(mine, base, lambda r: r.first_wall)
        warm = lr.spread([r.calls[1]["wall"] for r in mine])
        peak = max(r.maxrss_mb for r in mine)
        report.figure(section, f"first_request_{name}", first.median * 1000, "ms")
        report.figure(
            section, f"first_request_{name}_cpu", lr.spread([r.first_cpu for r in mine]).median * 1000, "ms"
        )
        report.figure(section, f"first_request_{name}_vs_baseline", ratio, "x")
        report.figure(section, f"second_request_{name}", warm.median * 1000, "ms")
        report.figure(
            section,
            f"second_request_{name}_cpu",
            lr.spread([r.calls[1]["cpu"] for r in mine]).median * 1000,
            "ms",
        )
        report.figure(
            section, f"first_request_{name}_init", lr.spread([r.init_wall for r in mine]).median * 1000, "ms"
        )
        report.figure(
            section,
            f"first_request_{name}_call",
            lr.spread([r.calls[0]["wall"] for r in mine]).median * 1000,
            "ms",
        )
        report.figure(
            section,
            f"first_request_{name}_call_cpu",
            lr.spread([r.calls[0]["cpu"] for r in mine]).median * 1000,
            "ms",
        )
        report.figure(section, f"peak_memory_{name}", peak, "MB")
        if key in counted:
            requests, metrics, log_bytes = counted[key]
            if key != "approvals_post":
                report.figure(section, f"log_bytes_{name.split('_')[0]}", log_bytes, "bytes/invocation")
            report.figure(
                section,
                f"warm_{name}_dynamodb_requests",
                sum(n for op, n in requests.items() if op.startswith("dynamodb.")),
                "requests",
            )
            report.figure(
                section, f"warm_{name}_dynamodb_items_read", requests.get("items.read", 0), "read units"
            )
            report.figure(
                section, f"warm_{name}_dynamodb_items_written", requests.get("items.write", 0), "items"
            )
            report.figure(
                section,
                f"warm_{name}_secretsmanager_requests",
                sum(n for op, n in requests.items() if op.startswith("secretsmanager.")),
                "requests",
            )
            report.figure(section, f"custom_metrics_{name}", len(metrics), "metrics")
            CUSTOM_METRICS.update(metrics)
        section.table.append(
            [
                label,
                first.ms(),
                lr.spread([r.first_cpu for r in mine]).ms(),
                f"{ratio:.2f}",
                lr.spread([r.init_wall for r in mine]).ms(),
                warm.ms(),
                f"{peak:.0f} MB",
            ]
        )
    get = lr.spread([r.first_wall for r in runs["approvals_get"]]).median
    raw = lr.spread([r.first_wall for r in runs["approvals_get_raw"]]).median
    section.verdict.append(
        f"An approver's first tap after a cold start: {get * 1000:.0f} ms of work here "
        f"({raw * 1000:.0f} ms with the raw `sam build` artefacts), {get / base_first.median:.1f}× the least a "
        "DynamoDB-backed page costs. Lambda adds its own start (the runtime, fetching the code) and the "
        "network round trips to DynamoDB and Secrets Manager; and it runs the request at the CPU share "
        "the memory setting buys (README, 'What it costs')."
    )

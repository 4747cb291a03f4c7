"""Sizing and cost: memory per function from what the runs measured, and the monthly bill for a
typical organisation (50 feeds polled at template.yaml's default interval, every minute; 100 posts
a month), priced from the figures the other modules measured and published list prices (each with
its source)."""

from __future__ import annotations

from dataclasses import dataclass

from tests.bench import Report
from tests.bench import lambda_runtime as lr

# -- the organisation --------------------------------------------------------------------------------
HOURS = 730  # AWS prices a month as 730 hours
FEEDS = 50
POSTS = 100
DRAFTS = 150  # drafts per month: the 100 posted, and 50 rejected or expired
APPROVERS = 2
OPENS_PER_APPROVER = 2  # the approver's tap, and the mail scanner that fetches every link first
QUEUE_VIEWS = 40
COLD_STARTS_PER_HOUR = 1  # poll and publish: Lambda recycles environments; one an hour is a cautious guess

# -- list prices (USD), and where each came from -------------------------------------------------------
LAMBDA = "https://docs.aws.amazon.com/whitepapers/latest/how-aws-pricing-works/lambda.html"
INIT_CPU = "https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting"
INIT_BILLED = "https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/"
CW = "https://www.factualminds.com/blog/amazon-cloudwatch-pricing-metrics-logs-alarms-dashboards/"
SNS = "https://www.factualminds.com/blog/amazon-sns-pricing-publishes-fanout-protocols/"
SECRETS = "https://hivebook.wiki/wiki/aws-secrets-manager-rotated-secrets-dynamic-db-credentials-kms"
DYNAMODB = "https://airbyte.com/data-engineering-resources/dynamodb-pricing"
DYNAMODB_STREAMS = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
# key: (USD per unit, the price as its source states it, source)
PRICES = {
    "lambda_request": (0.20 / 1e6, "$0.20 per million requests", LAMBDA),
    "lambda_gb_second": (0.0000166667, "$0.0000166667 per GB-second (x86)", LAMBDA),
    "http_api": (1.00 / 1e6, "$1.00 per million requests (HTTP API)", "https://www.apigatewaycost.com/aws"),
    "dynamodb_rru": (0.125 / 1e6, "$0.125 per million read request units", DYNAMODB),
    "dynamodb_wru": (0.625 / 1e6, "$0.625 per million write request units", DYNAMODB),
    "dynamodb_stream_trigger_read": (
        0.0,
        "free: GetRecords calls made by a Lambda trigger are not billed",
        DYNAMODB_STREAMS,
    ),
    "ses_email": (
        0.10 / 1000,
        "$0.10 per 1,000 emails",
        "https://www.acecloudinterviews.com/tutorials/aws/ses/",
    ),
    "sns_publish": (0.50 / 1e6, "$0.50 per million publishes", SNS),
    "sns_email": (2.00 / 100_000, "$2.00 per 100,000 email deliveries", SNS),
    "secret_month": (0.40, "$0.40 per secret per month", SECRETS),
    "secret_call": (0.05 / 10_000, "$0.05 per 10,000 API calls", SECRETS),
    "metric_month": (
        0.30,
        "$0.30 per custom metric per month",
        "https://signoz.io/guides/cloudwatch-pricing",
    ),
    "alarm_month": (
        0.10,
        "$0.10 per standard alarm per month",
        "https://c3x.dev/resources/aws/aws_cloudwatch_metric_alarm",
    ),
    "dashboard_month": (3.00, "$3.00 per dashboard per month", CW),
    "log_gb": (0.50, "$0.50 per GB ingested", CW),
    "xray_trace": (5.00 / 1e6, "$5.00 per million traces recorded", "https://aws.amazon.com/xray/pricing/"),
    "scheduler": (
        1.00 / 1e6,
        "$1.00 per million invocations",
        "https://cloudburn.io/blog/amazon-eventbridge-pricing",
    ),
    "x_post_with_link": (
        0.20,
        "$0.20 per post with a URL",
        "https://docs.x.com/x-api/getting-started/pricing",
    ),
}
LAMBDA_REPORT_BYTES = 400  # START, END and REPORT lines Lambda adds to each invocation's log
FULL_VCPU_MB = 1769  # https://docs.aws.amazon.com/lambda/latest/dg/resource-model.html


@dataclass
class Usage:
    service: str
    what: str
    quantity: float
    unit: str
    price: str

    @property
    def cost(self) -> float:
        return self.quantity * PRICES[self.price][0]


def _share(memory_mb: int) -> float:
    """The vCPU share a memory setting buys: one full vCPU at 1,769 MB."""
    return min(1.0, memory_mb / FULL_VCPU_MB)


def _in_lambda(wall_ms: float, cpu_ms: float, memory_mb: int) -> float:
    """A run measured here on a full core, at the CPU share of `memory_mb`: the CPU part
    stretches, the waits (network, DynamoDB) do not."""
    return max(0.0, wall_ms - cpu_ms) + cpu_ms / _share(memory_mb)


def run(report: Report) -> None:
    v = report.value
    if v("first_request_approvals_get") is None:
        print("make bench: the costs section needs the coldstart module's figures; left out")
        return
    from tests.bench.latency import interval_seconds

    poll_minutes = interval_seconds("PollSchedule") / 60
    publish_minutes = interval_seconds("PublishSchedule") / 60
    section = report.section(
        "Sizing and monthly cost",
        f"A typical organisation: {FEEDS} feeds polled every {poll_minutes:g} minute(s) and the publisher's "
        f"safety-net schedule every {publish_minutes:g} minutes (template.yaml's defaults), plus one publish "
        f"run started by the table's stream per post, {POSTS} posts a month from {DRAFTS} drafts, {APPROVERS} approvers who each "
        f"open every draft's link (and their mail scanner fetches it first: {OPENS_PER_APPROVER} GETs each), one "
        f"decision per draft, {QUEUE_VIEWS} queue views; a month is {HOURS} hours. Durations come from this run: "
        "warm and cold (INIT + first request) medians from 'Cold start plus the first request' and 'Approval "
        "latency', moved to Lambda's CPU share for each memory setting (the CPU part scales with "
        f"memory/{FULL_VCPU_MB} MB, waits do not; INIT runs on a full vCPU, [AWS's Serverless Land guide]({INIT_CPU})); "
        f"since August 2025 INIT is billed like the invocation ([AWS Compute Blog]({INIT_BILLED})). Cold starts: one per draft for approvals (its first tap), "
        f"{COLD_STARTS_PER_HOUR} an hour for each scheduled function. DynamoDB use is the items counted on "
        "the warm calls (small items: one read unit per item read, one write unit per item "
        "written, two per item in a transaction; drafting and posting add an estimated 10 and 12 write units "
        "each); custom metrics are those the handlers emitted in this run; log volume is what "
        f"they printed plus Lambda's {LAMBDA_REPORT_BYTES} bytes of START/END/REPORT lines. Prices are the list "
        "prices the linked sources give for US East (N. Virginia), before free tiers; the stack's region in "
        "these docs is Europe (London), eu-west-2, where some services list up to about 10–25% higher "
        "(cloudburn.io): at these volumes, cents.",
    )

    memory = {
        name: lr.memory_mb(function)
        for function, name in (("approvals", "approvals"), ("poll_feeds", "poll"), ("publish", "publish"))
    }
    # -- Lambda durations --------------------------------------------------------------------------------
    polls = HOURS * 60 / poll_minutes
    scheduled_publishes = HOURS * 60 / publish_minutes
    publishes = scheduled_publishes + POSTS  # each approval's own run, from the table's stream
    opens = DRAFTS * APPROVERS * OPENS_PER_APPROVER
    approvals = opens + DRAFTS + QUEUE_VIEWS
    cold = {
        "approvals": DRAFTS,
        "poll": HOURS * COLD_STARTS_PER_HOUR,
        "publish": HOURS * COLD_STARTS_PER_HOUR,
    }

    def cold_ms(name: str, fn: str) -> float:
        return (v(f"first_request_{name}_init") or 0) + _in_lambda(
            v(f"first_request_{name}_call") or 0, v(f"first_request_{name}_call_cpu") or 0, memory[fn]
        )

    get_warm = _in_lambda(
        v("approvals_get_p50") or v("second_request_approvals_get") or 0,
        v("approvals_get_cpu_p50") or v("second_request_approvals_get_cpu") or 0,
        memory["approvals"],
    )
    post_warm = _in_lambda(
        v("approvals_post_p50") or 0, v("approvals_post_cpu_p50") or 0, memory["approvals"]
    )
    poll_warm = _in_lambda(
        v("second_request_poll_50_feeds") or 0, v("second_request_poll_50_feeds_cpu") or 0, memory["poll"]
    )
    publish_warm = _in_lambda(
        v("second_request_publish_idle") or 0, v("second_request_publish_idle_cpu") or 0, memory["publish"]
    )
    post_run = v("publish_one_post_run_p50") or 1000.0  # the publish module's run that posts (X intercepted)
    durations = {  # name -> [(invocations, ms)]
        "approvals": [
            (cold["approvals"], cold_ms("approvals_get", "approvals")),
            (opens - cold["approvals"] + QUEUE_VIEWS, get_warm),
            (DRAFTS, post_warm),
        ],
        "poll": [(cold["poll"], cold_ms("poll_50_feeds", "poll")), (polls - cold["poll"], poll_warm)],
        "publish": [
            (cold["publish"], cold_ms("publish_idle", "publish")),
            (scheduled_publishes - cold["publish"], publish_warm),
            # the stream's runs: each posts one draft (its CPU share of a run that posts, measured whole)
            (POSTS, _in_lambda(post_run, post_run, memory["publish"])),
        ],
    }
    invocations = {"approvals": approvals, "poll": polls, "publish": publishes}
    gb_seconds = {
        n: sum(count * ms / 1000 * memory[n] / 1024 for count, ms in rows) for n, rows in durations.items()
    }

    sizing = [
        [
            "function",
            "memory",
            "vCPU share",
            "peak memory measured",
            "invocations / month",
            "typical duration in Lambda",
            "GB-seconds / month",
            "why this memory",
        ]
    ]
    why = {
        "approvals": "a person waits: a full vCPU for the review page and the first tap (the CPU part of a warm page here is about "
        f"{v('approvals_get_cpu_p50') or 0:.0f} ms, which would take {((v('approvals_get_cpu_p50') or 0) / _share(512)):.0f} ms at 512 MB); "
        "at a few hundred requests a month the cost is cents",
        "poll": "mostly waiting on feeds; the memory leaves room for the concurrent fetches of large feeds (up to the 5 MB cap each)",
        "publish": "mostly waiting on DynamoDB and X; the same headroom for tweepy and the link check when a post is due",
    }
    peaks = {
        "approvals": v("peak_memory_approvals_post"),
        "poll": v("peak_memory_poll_50_feeds"),
        "publish": v("peak_memory_publish_idle"),
    }
    typical = {"approvals": get_warm, "poll": poll_warm, "publish": publish_warm}
    for name in ("approvals", "poll", "publish"):
        report.figure(section, f"memory_{name}", memory[name], "MB")
        report.figure(section, f"gb_seconds_{name}", gb_seconds[name], "GB-s/month")
        report.figure(section, f"invocations_{name}", invocations[name], "requests/month")
        sizing.append(
            [
                name,
                f"{memory[name]} MB",
                f"{_share(memory[name]):.2f}",
                f"{peaks[name] or 0:.0f} MB",
                f"{invocations[name]:,.0f}",
                f"{typical[name]:.0f} ms warm, {cold_ms({'approvals': 'approvals_get', 'poll': 'poll_50_feeds', 'publish': 'publish_idle'}[name], name):.0f} ms cold",
                f"{gb_seconds[name]:,.0f}",
                why[name],
            ]
        )

    # -- everything else ---------------------------------------------------------------------------------
    # DynamoDB items read and written on the warm calls (counted by lambda_driver.py); items are
    # small, so a read item is one read unit (strongly consistent, up to 4 KB) and a written one
    # about one write unit (up to 1 KB; a draft is a little more).
    get_reads = v("warm_approvals_get_dynamodb_items_read") or 0
    reads = {
        "approvals": (opens + QUEUE_VIEWS) * get_reads
        + DRAFTS * (v("warm_approvals_post_dynamodb_items_read") or 0),
        "poll": polls * (v("warm_poll_50_feeds_dynamodb_items_read") or 0),
        "publish": scheduled_publishes * (v("warm_publish_idle_dynamodb_items_read") or 0),
    }
    writes = {
        "approvals": DRAFTS * (v("warm_approvals_post_dynamodb_items_written") or 0),
        # A drafted entry: the draft and its audit entry (a transaction), seen markers, notified markers.
        "poll": polls * (v("warm_poll_50_feeds_dynamodb_items_written") or 0) + DRAFTS * 10,
        # A post: claim, pacing reservation, result (transactions).
        "publish": scheduled_publishes * (v("warm_publish_idle_dynamodb_items_written") or 0) + POSTS * 12,
    }
    all_invocations = sum(invocations.values())
    log_bytes = sum(
        invocations[n] * (LAMBDA_REPORT_BYTES + (v(f"log_bytes_{n}") or 1500)) for n in invocations
    )
    metrics = len(_metric_names())
    alarms, dashboards = _template_counts()
    secret_calls = (
        cold["approvals"] * 2 + POSTS + DRAFTS
    )  # signing keys at each approvals cold start, X keys per post, links per draft
    usage = [
        Usage("Lambda", "invocations", all_invocations, "requests", "lambda_request"),
        Usage(
            "Lambda",
            "compute (memory × duration, INIT included)",
            sum(gb_seconds.values()),
            "GB-seconds",
            "lambda_gb_second",
        ),
        Usage("API Gateway", "approval page requests", approvals, "requests", "http_api"),
        Usage("DynamoDB", "reads", sum(reads.values()), "read units", "dynamodb_rru"),
        Usage("DynamoDB", "writes", sum(writes.values()), "write units", "dynamodb_wru"),
        Usage(
            "DynamoDB Streams",
            "the publish function's trigger (filtered: it runs once per approval, retry or resume)",
            POSTS,
            "runs started",
            "dynamodb_stream_trigger_read",
        ),
        Usage("SES", "review links to approvers", DRAFTS * APPROVERS, "emails", "ses_email"),
        Usage("SNS", "view-only notice per draft", DRAFTS, "publishes", "sns_publish"),
        Usage("SNS", "delivered to two email subscribers", DRAFTS * 2, "deliveries", "sns_email"),
        Usage("Secrets Manager", "X credentials and link-signing key", 2, "secrets", "secret_month"),
        Usage("Secrets Manager", "reads (cached 5 minutes)", secret_calls, "calls", "secret_call"),
        Usage("CloudWatch", "custom metrics the handlers emit", metrics, "metrics", "metric_month"),
        Usage("CloudWatch", "alarms in template.yaml", alarms, "alarms", "alarm_month"),
        Usage("CloudWatch", "dashboard", dashboards, "dashboards", "dashboard_month"),
        Usage("CloudWatch", "logs", log_bytes / 1e9, "GB", "log_gb"),
        Usage("X-Ray", "active tracing, every invocation sampled", all_invocations, "traces", "xray_trace"),
        Usage(
            "EventBridge Scheduler",
            "poll and publish schedules",
            polls + scheduled_publishes,
            "invocations",
            "scheduler",
        ),
    ]
    aws_total = sum(u.cost for u in usage)
    x_spend = POSTS * PRICES["x_post_with_link"][0]
    lambda_cost = sum(u.cost for u in usage if u.service == "Lambda")
    report.figure(section, "cost_lambda", lambda_cost, "USD/month")
    report.figure(section, "cost_aws_total", aws_total, "USD/month")
    report.figure(section, "cost_x", x_spend, "USD/month")
    report.figure(section, "custom_metrics", metrics, "metrics")

    section.table = sizing
    bill = [["service", "what", "a month", "list price", "cost / month", "source"]]
    for u in usage:
        _, shown, source = PRICES[u.price]
        bill.append(
            [
                u.service,
                u.what,
                f"{_amount(u.quantity)} {u.unit}",
                shown,
                f"${u.cost:,.2f}",
                f"[source]({source})",
            ]
        )
    bill.append(["**AWS**", "", "", "", f"**${aws_total:,.2f}**", ""])
    _, shown, source = PRICES["x_post_with_link"]
    bill.append(
        ["X", "posts, each with its link", f"{POSTS} posts", shown, f"${x_spend:,.2f}", f"[source]({source})"]
    )
    bill.append(["**Total**", "", "", "", f"**${aws_total + x_spend:,.2f}**", ""])
    section.extra_tables.append(bill)
    biggest = max(usage, key=lambda u: u.cost)
    section.verdict += [
        f"X is {x_spend / (aws_total + x_spend):.0%} of the bill: ${x_spend:.2f} for {POSTS} posts, against ${aws_total:.2f} for AWS.",
        f"The largest AWS line is {biggest.service} {biggest.what} (${biggest.cost:.2f}); Lambda itself is ${lambda_cost:.2f}.",
        "Permanent free tiers (Lambda's 1M requests and 400,000 GB-seconds, X-Ray's 100,000 traces, "
        "CloudWatch's 10 alarms, 3 dashboards and 5 GB of logs, Scheduler's 14M invocations) cover most "
        "of these lines in a small account; the table shows list prices so that it holds without them.",
        "Memory is the only lever on CPU in Lambda (one full vCPU at 1,769 MB, "
        "https://docs.aws.amazon.com/lambda/latest/dg/resource-model.html). For CPU-bound work more memory "
        "costs the same GB-seconds and finishes sooner; for waiting it costs more. Hence a full vCPU where "
        "a person waits (approvals) and 512 MB where the functions mostly wait on the network.",
    ]


def _amount(quantity: float) -> str:
    return f"{quantity:,.0f}" if quantity >= 10 else f"{quantity:.3g}"


def _metric_names() -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    from tests.bench.coldstart import CUSTOM_METRICS

    return CUSTOM_METRICS


def _template_counts() -> tuple[int, int]:
    from tests.support.aws import load_template

    resources = load_template()["Resources"].values()
    return (
        sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Alarm"),
        sum(1 for r in resources if r["Type"] == "AWS::CloudWatch::Dashboard"),
    )

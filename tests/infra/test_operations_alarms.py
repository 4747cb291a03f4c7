"""Alarms, runbooks, dashboard, environments and the custom domain, as template.yaml,
samconfig.toml and docs/operations.md define them, and the metrics the functions really emit.
"""

from __future__ import annotations

import json
import re
import tomllib
from datetime import timedelta

import pytest
import time_machine

from hookline.models import State
from hookline.publish.health import STUCK_AFTER
from tests.conftest import NOW
from tests.publish.test_health import a_draft, publishing, spend
from tests.support.aws import AwsFake, deploy, load_template
from tests.support.events import call, load
from tests.support.feeds import Item, page, rss
from tests.support.paths import ROOT

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
ALARMS = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
RUNBOOK = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
# The alarms on metrics the poll function emits; every other hookline alarm watches the publish run.
POLL_METRICS = {"PollHeartbeat", "FeedsFailingRepeatedly", "FeedsHeld"}
CERT = "arn:aws:acm:eu-west-2:000000000000:certificate/0a1b2c3d-0000-4000-8000-000000000000"


def slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def sections(markdown: str) -> dict[str, str]:
    """Anchor -> the text under that heading, up to the next heading (not counting code blocks)."""
    out: dict[str, str] = {}
    current = None
    fenced = False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else re.match(r"^#{1,6} (.+)$", line)
        if match:
            current = slug(match.group(1))
            out[current] = ""
        elif current:
            out[current] += line + "\n"
    return out


def emitted_metrics(stdout: str) -> dict[str, float]:
    """Metric name -> value from the functions' CloudWatch embedded-metric-format lines."""
    values: dict[str, float] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        names = [m["Name"] for m in directive["Metrics"]]
        # The alarms watch the metric with the one dimension service=hookline
        assert directive["Namespace"] == "hookline" and directive["Dimensions"] == [["service"]]
        assert doc["service"] == "hookline"
        for name in names:
            value = doc[name]
            if isinstance(value, list):  # one value per metric and run
                [value] = value
            values[name] = value
    return values


# -- every alarm has a runbook ---------------------------------------------------------------------


@pytest.mark.parametrize("alarm", sorted(ALARMS))
def test_every_alarm_links_a_runbook_section_that_says_what_it_means_how_to_check_and_fix(alarm):
    # Given the alarm's description, which is what the alarm email shows
    description = ALARMS[alarm]["AlarmDescription"]
    links = re.findall(r"docs/operations\.md#([a-z0-9-]+)", description)

    # Then it links exactly one section of docs/operations.md, which exists
    assert len(links) == 1, description
    runbook = sections(RUNBOOK).get(links[0])
    assert runbook is not None, f"{alarm}: no section #{links[0]} in docs/operations.md"
    # And the section says what it means, what to check and what to do
    for part in ("**What it means.**", "**Check", "**Fix"):
        assert part in runbook, f"#{links[0]} lacks {part}"
    # And it notifies the alarm topic
    assert ALARMS[alarm]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_runbooks_links_to_each_other_all_resolve():
    anchors = set(sections(RUNBOOK))
    for target in re.findall(r"\]\(#([a-z0-9-]+)\)", RUNBOOK):
        assert target in anchors, f"broken link #{target}"


# -- the alarms the issue asks for, with the semantics that make them right ----------------------------


def custom_alarm(metric: str) -> dict:
    [props] = [a for a in ALARMS.values() if a["MetricName"] == metric]
    assert props["Namespace"] == "hookline"
    assert props["Dimensions"] == [{"Name": "service", "Value": "hookline"}]  # powertools' dimension
    return props


def test_no_successful_poll_for_30_minutes_alarms_even_when_the_poller_sends_nothing_at_all():
    props = custom_alarm("PollHeartbeat")
    assert props["Period"] * props["EvaluationPeriods"] == 30 * 60
    assert props["DatapointsToAlarm"] == props["EvaluationPeriods"]  # 30 minutes without one, not some
    assert (props["Statistic"], props["ComparisonOperator"], props["Threshold"]) == (
        "Sum",
        "LessThanThreshold",
        1,
    )
    assert props["TreatMissingData"] == "breaching"  # a poller that never runs sends no data
    assert props["OKActions"] == [{"Ref": "AlarmTopic"}]


@pytest.mark.parametrize(
    ("metric", "threshold"),
    [
        ("DraftsStuckPublishing", 1),
        ("PendingPastReminder", 1),
        ("AccountCheckFailed", 1),
        ("MonthSpendPercentOfCap", 80),
    ],
)
def test_level_alarms_fire_at_their_threshold_and_stay_quiet_without_data(metric, threshold):
    props = custom_alarm(metric)
    assert props["Threshold"] == threshold
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "notBreaching"


def test_messages_in_the_dead_letter_queue_alarm():
    [props] = [a for a in ALARMS.values() if a["MetricName"] == "ApproximateNumberOfMessagesVisible"]
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"GetAtt": "DeadLetterQueue.QueueName"}}]
    assert (props["Threshold"], props["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert "aws sqs purge-queue" in sections(RUNBOOK)["dead-letter-queue"]
    assert "aws lambda invoke" in sections(RUNBOOK)["dead-letter-queue"]


def test_the_stuck_alarm_description_states_the_limit_the_gauge_uses():
    minutes = int(STUCK_AFTER.total_seconds() // 60)
    assert f"over {minutes} minutes" in custom_alarm("DraftsStuckPublishing")["AlarmDescription"]
    assert f"more than {minutes} minutes" in sections(RUNBOOK)["draft-stuck-publishing"]


# -- the functions emit what the alarms watch --------------------------------------------------------


def test_the_publish_run_emits_the_gauges_the_alarms_watch_with_the_tables_values(lambda_env, capsys):
    # Given a table with a draft whose publisher died 40 minutes ago, one waiting past the
    # reminder limit, and $16.40 of the $20 cap spent
    store = lambda_env.store(clock=lambda: NOW)
    lambda_env.write_config(pacing={"monthly_spend_cap_usd": 20}, approval={"reminder_after_hours": 4})
    stuck = a_draft(store, "Stuck report", created=NOW - timedelta(hours=6))
    publishing(store, stuck, started=NOW - timedelta(minutes=40))
    a_draft(store, "Waiting research", created=NOW - timedelta(hours=5))
    spend(store, posts=82)
    store.set_pause(True, by="test", reason="gauges only", now=NOW)  # so nothing is posted
    capsys.readouterr()

    # When the scheduled publish run happens
    with time_machine.travel(NOW, tick=False):
        call(lambda_env.handler("publish"), load("publish"))

    # Then its metrics carry the gauges, under the names and dimension the alarms watch,
    # read after the run: it took the dead publisher's draft over, so nothing is stuck now
    metrics = emitted_metrics(capsys.readouterr().out)
    assert store.get_draft(stuck.id).state is State.APPROVED
    assert metrics["DraftsStuckPublishing"] == 0.0
    assert metrics["PendingPastReminder"] == 1.0
    assert metrics["PendingDrafts"] == 1.0
    assert metrics["OldestPendingMinutes"] == 300.0
    assert metrics["MonthSpendPercentOfCap"] == 82.0
    for alarm in ALARMS.values():
        if alarm["Namespace"] == "hookline" and alarm["MetricName"] not in POLL_METRICS:
            assert alarm["MetricName"] in metrics, alarm["MetricName"]
    # And nothing is emitted that no one watches: every custom metric is billed every month
    assert set(metrics) <= watched()


def test_a_failing_publish_run_still_reports_the_draft_it_leaves_stuck(lambda_env, capsys, monkeypatch):
    # Given a draft stuck in PUBLISHING for 40 minutes, and a publish run that fails
    # before it can take the draft over (DynamoDB refusing, a bad deploy, ...)
    store = lambda_env.store(clock=lambda: NOW)
    publishing(
        store,
        a_draft(store, "Stuck report", created=NOW - timedelta(hours=6)),
        started=NOW - timedelta(minutes=40),
    )
    handler = lambda_env.handler("publish")

    def failing(*_args, **_kwargs):
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(handler, "publish_due", failing)
    capsys.readouterr()

    # When the run fails
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError):
        call(handler, load("publish"))

    # Then the gauges were still sent, and the stuck draft raises its alarm
    assert emitted_metrics(capsys.readouterr().out)["DraftsStuckPublishing"] == 1.0


def test_a_poll_with_a_feed_answering_emits_the_heartbeat_and_one_where_all_fail_does_not(
    lambda_env, web, capsys
):
    # Given one feed that answers
    web.add("/news.xml", rss(web.base_url, [Item("New research report", "report")], NOW))
    web.add("/news/report", page("New research report"))
    lambda_env.write_config(feeds=[{"id": "news", "url": web.url("/news.xml")}])
    poll = lambda_env.handler("poll_feeds")
    capsys.readouterr()

    # When it is polled, the heartbeat beats
    with time_machine.travel(NOW, tick=True):
        call(poll, load("poll_feeds"))
    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["PollHeartbeat"] == 1
    # And the other poll metric an alarm watches is there too (every run, zero or not)
    assert set(metrics) >= POLL_METRICS
    assert metrics["FeedsFailingRepeatedly"] == 0
    assert set(metrics) <= watched()  # and no metric that no alarm or graph reads

    # And when the only feed fails, there is no heartbeat, so the alarm counts the period as missed
    lambda_env.write_config(feeds=[{"id": "news", "url": "http://127.0.0.1:9/news.xml"}])
    with time_machine.travel(NOW + timedelta(minutes=5), tick=True):
        call(lambda_env.handler("poll_feeds"), load("poll_feeds"))
    assert "PollHeartbeat" not in emitted_metrics(capsys.readouterr().out)


def test_the_publish_function_may_read_what_its_gauges_read_and_nothing_more_is_added():
    # The gauges query the ByState index and get the month's spend item: both within the
    # publish function's existing statement on the table
    [statement] = [
        st
        for st in RESOURCES["PublishFunction"]["Properties"]["Policies"][0]["Statement"]  # !If: no Action
        if any(str(a).startswith("dynamodb:") for a in st.get("Action", []))
    ]
    assert {"dynamodb:Query", "dynamodb:GetItem"} <= set(statement["Action"])
    assert {"Sub": "${Table.Arn}/index/ByState"} in statement["Resource"]
    assert {"GetAtt": "Table.Arn"} in statement["Resource"]


# -- the dashboard -----------------------------------------------------------------------------------


def dashboard() -> dict:
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Sub"]
    return json.loads(re.sub(r"\$\{([^}]+)\}", lambda m: "REF:" + m.group(1), body))


def watched() -> set[str]:
    """The custom metrics an alarm or a dashboard graph reads."""
    plotted = {
        m[1] for w in dashboard()["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]
    }
    return plotted | {a["MetricName"] for a in ALARMS.values() if a["Namespace"] == "hookline"}


def test_the_dashboard_shows_every_alarm_and_every_metric_an_alarm_watches():
    widgets = dashboard()["widgets"]
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {f"REF:{name}.Arn" for name in ALARMS}
    plotted = {m[1] for w in widgets if w["type"] == "metric" for m in w["properties"]["metrics"]}
    for alarm in ALARMS.values():
        assert alarm["MetricName"] in plotted, alarm["MetricName"]
    spend_widget = next(w for w in widgets if "spend" in w["properties"].get("title", "").lower())
    assert (
        spend_widget["properties"]["annotations"]["horizontal"][0]["value"]
        == custom_alarm("MonthSpendPercentOfCap")["Threshold"]
    )


def test_the_dashboards_url_is_an_output():
    assert "DashboardUrl" in deploy(AwsFake(), "hookline").outputs()


# -- logs and tracing -------------------------------------------------------------------------------


def test_every_function_has_a_log_group_with_the_retention_parameter_and_active_tracing():
    functions = [k for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"]
    groups = {
        v["Properties"]["LogGroupName"]["Sub"]: v["Properties"]["RetentionInDays"]
        for v in RESOURCES.values()
        if v["Type"] == "AWS::Logs::LogGroup"
    }
    for function in functions:
        assert groups.get(f"/aws/lambda/${{{function}}}") == {"Ref": "LogRetentionDays"}, function
        tracing = RESOURCES[function]["Properties"].get("Tracing", TEMPLATE["Globals"]["Function"]["Tracing"])
        assert tracing == "Active"


# -- environments ------------------------------------------------------------------------------------


SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))


def overrides(env: str) -> dict[str, str]:
    text = SAMCONFIG[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(pair.split("=", 1) for pair in text.split())


@pytest.mark.parametrize("env", ["default", "dev", "prod"])
def test_each_environment_deploys_its_own_stack_with_valid_parameters(env):
    deploy_params = SAMCONFIG[env]["deploy"]["parameters"]
    assert deploy_params["resolve_s3"] is True
    assert deploy_params["capabilities"] == "CAPABILITY_IAM"
    assert SAMCONFIG[env]["global"]["parameters"]["stack_name"].startswith("hookline-")
    # Every override names a template parameter and, where the template restricts it, an allowed value
    for name, value in overrides(env).items():
        spec = TEMPLATE["Parameters"][name]
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], (name, value)
    deploy(AwsFake(), "check", parameters=overrides(env))  # evaluates with these values


def test_dev_never_posts_and_plain_sam_deploy_is_dev_while_prod_is_live():
    assert overrides("dev")["PublishMode"] == "shadow"
    assert SAMCONFIG["default"] == SAMCONFIG["dev"]
    assert overrides("prod")["PublishMode"] == "live"
    assert (
        SAMCONFIG["dev"]["global"]["parameters"]["stack_name"]
        != SAMCONFIG["prod"]["global"]["parameters"]["stack_name"]
    )


# -- the custom domain ------------------------------------------------------------------------------


def link_signers(template) -> dict[str, str]:
    return {k: v["HOOKLINE_BASE_URL"] for k, v in template.functions().items() if "HOOKLINE_BASE_URL" in v}


def test_without_a_custom_domain_links_use_the_apis_own_address_and_no_domain_is_created():
    fake = AwsFake()
    template = deploy(fake, "hookline-prod")
    execute_api = "https://a1b2c3d4e5.execute-api.eu-west-2.amazonaws.com"
    assert link_signers(template) == {"PollFeedsFunction": execute_api, "PublishFunction": execute_api}
    assert fake.stack_outputs["hookline-prod"]["ApiUrl"] == execute_api
    kinds = {kind for _, _, kind in fake.stack_resources["hookline-prod"]}
    assert not kinds & {
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::Route53::RecordSet",
    }


@pytest.mark.parametrize("zone", ["", "Z0123456789ABCDEFGHIJ"], ids=["own DNS", "Route 53 zone"])
def test_with_a_custom_domain_every_function_that_signs_links_uses_it(zone):
    fake = AwsFake()
    params = {
        "ApprovalDomainName": "approve.example.org",
        "ApprovalCertificateArn": CERT,
        "ApprovalHostedZoneId": zone,
    }
    template = deploy(fake, "hookline-prod", parameters=params)
    assert link_signers(template) == {
        "PollFeedsFunction": "https://approve.example.org",
        "PublishFunction": "https://approve.example.org",
    }
    outputs = fake.stack_outputs["hookline-prod"]
    assert outputs["ApiUrl"] == "https://approve.example.org"
    assert outputs["CustomDomainTarget"].endswith(".execute-api.eu-west-2.amazonaws.com")
    kinds = [kind for _, _, kind in fake.stack_resources["hookline-prod"]]
    assert "AWS::ApiGatewayV2::DomainName" in kinds and "AWS::ApiGatewayV2::ApiMapping" in kinds
    assert ("AWS::Route53::RecordSet" in kinds) == bool(zone)


def test_a_domain_without_a_certificate_is_refused_at_deploy_and_creates_nothing():
    rule = TEMPLATE["Rules"]["CustomDomainNeedsCertificate"]
    assert "ApprovalCertificateArn" in json.dumps(rule["Assertions"])
    template = deploy(AwsFake(), "x", parameters={"ApprovalDomainName": "approve.example.org"})
    assert not template.condition("HasCustomDomain")


def test_review_links_mailed_to_approvers_use_the_custom_domain(lambda_env, web, aws):
    # Given the poll function's environment as the stack sets it with a custom domain
    template = deploy(
        AwsFake(),
        "hookline-prod",
        parameters={"ApprovalDomainName": "approve.example.org", "ApprovalCertificateArn": CERT},
    )
    lambda_env.monkeypatch.setenv(
        "HOOKLINE_BASE_URL", template.functions()["PollFeedsFunction"]["HOOKLINE_BASE_URL"]
    )
    web.add("/news.xml", rss(web.base_url, [Item("New research report", "report")], NOW))
    web.add("/news/report", page("New research report"))
    lambda_env.write_config(
        feeds=[{"id": "news", "url": web.url("/news.xml")}], polling={"initial_drafts": 1}
    )

    # When a draft is made and the approvers are mailed
    with time_machine.travel(NOW, tick=True):
        assert call(lambda_env.handler("poll_feeds"), load("poll_feeds"))["drafted"] == 1

    # Then every review link in every email starts with the custom domain
    emails = aws.of("SendEmail")
    assert len(emails) == 2
    for email in emails:
        body = email.params["Content"]["Simple"]["Body"]["Text"]["Data"]
        links = re.findall(r"https?://\S+/drafts/\S+", body)
        assert links and all(link.startswith("https://approve.example.org/drafts/") for link in links)

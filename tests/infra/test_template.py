"""template.yaml is what gets deployed; these check it carries what the code relies on."""

from __future__ import annotations

import json

import pytest
import yaml

from local.dynamodb import _CfnLoader, table_definition
from tests.support.paths import ROOT

TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {
    "PollFeedsFunction": "poll_feeds",
    "ApprovalsFunction": "approvals",
    "PublishFunction": "publish",
}


def test_the_table_is_on_demand_encrypted_recoverable_with_ttl_and_a_state_index():
    table = RESOURCES["Table"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    [index] = table_definition()["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "ByState"  # store.STATE_INDEX
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["state", "state_at"]


@pytest.mark.parametrize(("logical", "folder"), FUNCTIONS.items())
def test_each_function_has_its_handler_requirements_and_event_file(logical, folder):
    props = RESOURCES[logical]["Properties"]
    assert props["CodeUri"] == f"functions/{folder}/"
    assert props["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions" / folder / "app.py").read_text().count("def lambda_handler") == 1
    assert (ROOT / "functions" / folder / "requirements.txt").exists()
    event = json.loads((ROOT / "events" / f"{folder}.json").read_text())
    assert isinstance(event, dict) and event


def test_the_domain_layer_is_built_by_sam_for_python313_and_holds_no_boto3():
    layer = RESOURCES["HooklineLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Properties"]["ContentUri"] == "layers/hookline/"
    requirements = (ROOT / "layers" / "hookline" / "requirements.txt").read_text()
    assert "boto3==" not in requirements and "botocore==" not in requirements
    assert "--hash=sha256:" in requirements


def test_no_secret_value_is_in_the_template_only_names():
    params = TEMPLATE["Parameters"]
    assert params["XCredentialsSecretName"]["Type"] == "String"
    text = (ROOT / "template.yaml").read_text()
    for word in ('"consumer_secret":', '"access_token_secret":', " SecretString:"):
        assert word not in text
    assert "GenerateSecretString" in text  # the signing key is generated, never written down


def test_feeds_are_polled_every_minute_and_the_publisher_runs_every_five_as_the_safety_net():
    assert TEMPLATE["Parameters"]["PollSchedule"]["Default"] == "rate(1 minute)"
    assert TEMPLATE["Parameters"]["PublishSchedule"]["Default"] == "rate(5 minutes)"
    for logical, folder in (("PollFeedsFunction", "poll_feeds"), ("PublishFunction", "publish")):
        [event] = [
            e for e in RESOURCES[logical]["Properties"]["Events"].values() if e["Type"] == "ScheduleV2"
        ]
        sent = json.loads(event["Properties"]["Input"])
        assert sent == json.loads((ROOT / "events" / f"{folder}.json").read_text())


def test_the_publish_function_hears_of_due_drafts_from_the_tables_stream():
    view = RESOURCES["Table"]["Properties"]["StreamSpecification"]["StreamViewType"]
    assert view == "NEW_AND_OLD_IMAGES"  # the filter compares the state before and after
    events = RESOURCES["PublishFunction"]["Properties"]["Events"]
    assert sorted(e["Type"] for e in events.values()) == ["DynamoDB", "ScheduleV2"]
    props = events["DueNow"]["Properties"]
    assert props["Stream"] == {"GetAtt": "Table.StreamArn"}
    assert props["StartingPosition"] == "LATEST"
    # a failed run is not retried from the stream (the schedule is the retry), so a bad batch
    # never blocks the approvals behind it
    assert props["MaximumRetryAttempts"] == 0
    patterns = [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]]
    assert len(patterns) == 3 and all(p["eventName"] == ["MODIFY"] for p in patterns)
    # the other functions are not wired to the stream
    for logical in ("PollFeedsFunction", "ApprovalsFunction"):
        assert all(e["Type"] != "DynamoDB" for e in RESOURCES[logical]["Properties"]["Events"].values())


def test_the_approvals_api_has_the_contract_routes():
    events = RESOURCES["ApprovalsFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events}
    assert routes == {
        ("GET", "/drafts/{id}"),
        ("POST", "/drafts/{id}"),
        ("GET", "/queue"),
        ("POST", "/skips/{feed}/{key}"),  # "Draft this" on a kept skip
        ("POST", "/controls/pause"),
        ("POST", "/controls/resume"),
    }


def test_function_errors_and_dead_letters_raise_alarms_to_the_alarm_topic():
    alarms = {k: v for k, v in RESOURCES.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    watched = {
        a["Properties"]["Dimensions"][0]["Value"].get("Ref")
        for a in alarms.values()
        if a["Properties"]["MetricName"] == "Errors"
    }
    assert watched == set(FUNCTIONS)
    assert any(a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible" for a in alarms.values())
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}] for a in alarms.values())


def test_the_approvals_function_may_invoke_exactly_the_poll_function_and_is_told_its_name():
    # "Draft this" on a skip is composed in the poll function (the approvals function has 10 s)
    props = RESOURCES["ApprovalsFunction"]["Properties"]
    assert props["Environment"]["Variables"]["HOOKLINE_POLL_FUNCTION"] == {"Ref": "PollFeedsFunction"}
    statements = [s for p in props["Policies"] for s in p["Statement"]]
    invoking = [s for s in statements if "lambda" in str(s["Action"])]
    assert invoking == [
        {
            "Sid": "DraftSkipsInThePollFunction",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": {"GetAtt": "PollFeedsFunction.Arn"},
        }
    ]


def test_email_is_sent_only_as_the_configured_sender_identity():
    # Every SES grant names the EmailSender parameter (the address, or its domain), never identity/*
    grants = []
    for name in ("PublishFunction", "PollFeedsFunction", "ApprovalsFunction"):
        for policy in RESOURCES[name]["Properties"].get("Policies", []):
            for statement in policy.get("Statement", []):
                if "ses:SendEmail" in json.dumps(statement.get("Action", statement)):  # an !If: checked whole
                    grants.append((name, json.dumps(statement["Resource"])))
    assert grants
    for name, resource in grants:
        assert "identity/*" not in resource, name
        assert "identity/${EmailSender}" in resource and "identity/${Domain}" in resource, name
    # And the parameter's default is the sender the packaged config uses, so the two agree
    config = yaml.safe_load((ROOT / "config" / "hookline.yaml").read_text())
    assert TEMPLATE["Parameters"]["EmailSender"]["Default"] == config["notifications"]["email_sender"]

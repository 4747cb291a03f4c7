"""Each function's IAM policy in template.yaml reaches exactly what its code uses.

The three deployed functions are driven through a week of the organisation's news
(tests/reliability/journey.py: every path each function has), and every AWS call each
one makes is recorded inside botocore. Those calls, turned into IAM actions on the
template's resources, are compared with the function's Policies: every call must be
allowed (or the function fails in AWS), and every allowed action and resource must be
used (or the policy grants more than the code needs).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest
import time_machine
from botocore.client import BaseClient

from tests.conftest import NOW, X_SECRET
from tests.reliability.journey import POLL_FUNCTION, SIGNING_SECRET, Journey, run
from tests.reliability.system import Findings
from tests.support.aws import Template, load_template

pytestmark = pytest.mark.slow

FUNCTIONS = {
    "poll_feeds": "PollFeedsFunction",
    "approvals": "ApprovalsFunction",
    "publish": "PublishFunction",
}
TOPIC = "arn:aws:sns:eu-west-2:000000000000:hookline-approvers"
# botocore's transaction items -> the IAM action each one needs
TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def resource(expression: Any) -> str:
    """A template Resource expression, named by what it is."""
    text = json.dumps(expression)
    if "/index/" in text:
        return "table index " + text.split("/index/", 1)[1].split('"', 1)[0]
    if "Table.Arn" in text:
        return "table"
    if "SigningKeySecret" in text:
        return "signing key secret"
    if "XCredentialsSecretName" in text:
        return "X credentials secret"
    if "BlueskyAppPasswordSecretName" in text:
        return "Bluesky app password secret"
    if "MastodonTokenSecretName" in text:
        return "Mastodon token secret"
    if "ApproversTopic" in text:
        return "approvers topic"
    if "PollFeedsFunction.Arn" in text:
        return "poll function"
    if ":ses:" in text and "identity/" in text:
        return "SES identities"
    return text


def statements(policy: dict[str, Any], parameters: dict[str, str] | None) -> list[dict[str, Any]]:
    """A policy's statements as deployed with `parameters` (the defaults when None): a statement
    under !If is there only when its condition holds."""
    stack = Template(load_template(), "hookline", parameters)
    kept = []
    for statement in policy["Statement"]:
        branch = statement.get("Fn::If", statement.get("If"))
        if branch is not None:
            name, yes, no = branch
            statement = yes if stack.condition(name) else no
            if statement == {"Ref": "AWS::NoValue"}:
                continue
        kept.append(statement)
    return kept


def granted(
    logical: str, parameters: dict[str, str] | None = None
) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """(actions, resources, every (action, resource) pair) a function's Policies allow."""
    properties = load_template()["Resources"][logical]["Properties"]
    actions, resources, pairs = set(), set(), set()
    for policy in properties.get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"{logical}: only inline statements are checked"
        )
        for statement in statements(policy, parameters):
            assert statement["Effect"] == "Allow"
            acts = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            res = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for act in acts:
                for r in res:
                    actions.add(act)
                    resources.add(resource(r))
                    pairs.add((act, resource(r)))
    return actions, resources, pairs


def needs(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The IAM (action, resource) pairs an AWS call needs."""
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            return [
                (f"dynamodb:{TRANSACT[kind]}", "table") for item in params["TransactItems"] for kind in item
            ]
        if operation == "TransactGetItems":
            return [("dynamodb:GetItem", "table") for _ in params["TransactItems"]]
        where = f"table index {params['IndexName']}" if params.get("IndexName") else "table"
        return [(f"dynamodb:{operation}", where)]
    if service == "sns":
        return [(f"sns:{operation}", "approvers topic" if params.get("TopicArn") == TOPIC else str(params))]
    if service == "sesv2":
        return [(f"ses:{operation}", "SES identities")]
    if service == "secretsmanager":
        name = params.get("SecretId")
        which = {SIGNING_SECRET: "signing key secret", X_SECRET: "X credentials secret"}.get(name, str(name))
        return [(f"secretsmanager:{operation}", which)]
    if service == "lambda" and operation == "Invoke":
        where = (
            "poll function"
            if params.get("FunctionName") == POLL_FUNCTION
            else str(params.get("FunctionName"))
        )
        return [("lambda:InvokeFunction", where)]
    return [(f"{service}:{operation}", "?")]


@pytest.mark.scenario("Least privilege: each function's IAM policy is what its code calls")
def test_each_function_is_allowed_exactly_the_aws_calls_it_makes(
    lambda_env, web, aws, x_api, monkeypatch, ledger
):
    used: dict[str, set[tuple[str, str]]] = defaultdict(set)
    calls: dict[str, int] = defaultdict(int)
    current: list[str | None] = [None]
    real = BaseClient._make_api_call

    def recorded(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if current[0] is not None:
            calls[current[0]] += 1
            used[current[0]].update(needs(client.meta.service_model.service_name, operation, params))
        return real(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recorded)

    def enter(name: str) -> None:
        current[0] = name

    def leave(name: str) -> None:
        current[0] = None

    # Given each function run through every path it has
    with time_machine.travel(NOW, tick=False) as traveller:
        run(Journey(lambda_env, web, aws, x_api, traveller, before_call=enter, after_call=leave))

    # Then each function was allowed every call it made, and made use of everything it is allowed
    found = Findings()
    lines = []
    for name, logical in FUNCTIONS.items():
        actions, resources, pairs = granted(logical)
        mine = used[name]
        for action, where in sorted(mine - pairs):
            found.unsafe.append(
                f"{logical} calls {action} on {where} but is not allowed to (AccessDenied in AWS)"
            )
        for action in sorted(actions - {a for a, _ in mine}):
            found.unsafe.append(f"{logical} is allowed {action} but never calls it")
        for where in sorted(resources - {r for _, r in mine}):
            found.unsafe.append(f"{logical} is allowed to reach the {where} but never does")
        lines.append(
            f"{logical}: {calls[name]} AWS calls; allowed {', '.join(sorted(actions))} on "
            f"{', '.join(sorted(resources))}"
        )

    ledger.record(
        sum(len(used[n]) for n in FUNCTIONS) + sum(len(granted(lg)[2]) for lg in FUNCTIONS.values()),
        found,
        note="every (action, resource) a function used, and every one its policy grants, compared; "
        + "; ".join(lines),
    )
    assert found.clean, found.summary()


NETWORK_SECRETS = {
    "BlueskyAppPasswordSecretName": "hookline/bluesky",
    "MastodonTokenSecretName": "hookline/mastodon",
}


def test_the_other_networks_secrets_are_granted_only_when_named_and_only_to_the_publisher():
    # The journey deploys with the defaults (X only): no Bluesky or Mastodon grant exists, which
    # the test above holds the publisher to. Named, each is the publisher's alone.
    for logical in FUNCTIONS.values():
        assert not {"Bluesky app password secret", "Mastodon token secret"} & granted(logical)[1]
    for name, logical in FUNCTIONS.items():
        pairs = granted(logical, NETWORK_SECRETS)[2]
        mine = {
            ("secretsmanager:GetSecretValue", "Bluesky app password secret"),
            ("secretsmanager:GetSecretValue", "Mastodon token secret"),
        } & pairs
        assert bool(mine) == (name == "publish") and (not mine or len(mine) == 2), (logical, mine)
    # And the publisher is told the names it may read, as the grants' resources name them
    stack = Template(load_template(), "hookline", NETWORK_SECRETS)
    env = stack.value(load_template()["Resources"]["PublishFunction"]["Properties"]["Environment"])
    assert env["Variables"]["HOOKLINE_BLUESKY_SECRET"] == "hookline/bluesky"
    assert env["Variables"]["HOOKLINE_MASTODON_SECRET"] == "hookline/mastodon"
    [bluesky] = [
        st
        for st in statements(
            load_template()["Resources"]["PublishFunction"]["Properties"]["Policies"][0], NETWORK_SECRETS
        )
        if st.get("Sid") == "BlueskyAccountCredentials"
    ]
    assert stack.value(bluesky["Resource"]) == (
        "arn:aws:secretsmanager:eu-west-2:000000000000:secret:hookline/bluesky-*"
    )

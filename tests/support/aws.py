"""AWS services we cannot run here (SNS, SES, Secrets Manager, CloudFormation, Lambda,
EventBridge Scheduler), faked at botocore's HTTP transport. DynamoDB requests to
DynamoDB Local pass through untouched.

Every intercepted request is recorded (service, operation, parameters as sent on
the wire), so tests assert on exactly what hookline sent.

`deploy(fake, stack, ...)` fills the fake with what `sam deploy` of template.yaml
leaves behind (outputs, resources, the functions' environment, the schedules),
evaluated from the template itself, so the operations tests cannot drift from it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from botocore.awsrequest import AWSResponse
from botocore.httpsession import URLLib3Session


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


@dataclass
class Call:
    service: str
    operation: str
    params: dict[str, Any]
    url: str


REGION = "eu-west-2"
_NO_VALUE = object()  # CloudFormation's AWS::NoValue
ACCOUNT = "000000000000"


@dataclass
class AwsFake:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {stage: value}
    stack_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # operation -> HTTP status to answer once
    # -- what the operations commands read (doctor, status) ----------------------------------
    stack_parameters: dict[str, dict[str, str]] = field(default_factory=dict)
    stack_status: dict[str, str] = field(default_factory=dict)  # default CREATE_COMPLETE
    stack_resources: dict[str, list[tuple[str, str, str]]] = field(
        default_factory=dict
    )  # logical, physical, type
    functions: dict[str, dict[str, str]] = field(default_factory=dict)  # function name -> environment
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> GetSchedule answer
    secrets_denied: set[str] = field(default_factory=set)  # names the caller may not read
    secrets_deleted: set[str] = field(default_factory=set)  # names scheduled for deletion
    ses_production: bool = True  # False: the SES sandbox
    ses_sending: bool = True
    ses_identities: dict[str, str] = field(default_factory=dict)  # identity -> SUCCESS | PENDING | FAILED
    ses_suppressed: dict[str, str] = field(default_factory=dict)  # address -> BOUNCE | COMPLAINT
    subscriptions: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # topic -> subscriptions

    def of(self, operation: str) -> list[Call]:
        return [c for c in self.calls if c.operation == operation]

    # -- transport -------------------------------------------------------------------------

    def handle(self, request: Any) -> AWSResponse | None:
        url = request.url
        host = urlsplit(url).hostname or ""
        if host in ("127.0.0.1", "localhost", "::1"):
            return None  # DynamoDB Local: the real engine answers
        service = host.split(".")[0]
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        body = request.body or b""
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        target = headers.get("x-amz-target", "")
        path = urlsplit(url).path
        if target:
            operation = target.split(".")[-1]
            params = json.loads(body or b"{}")
        elif service in ("email", "lambda", "scheduler"):
            operation, params = _rest_operation(request.method, path)
            if operation == "Invoke":  # the body is the function's event, not parameters
                params.update(InvocationType=headers.get("x-amz-invocation-type"), Payload=json.loads(body))
            elif body:
                params.update(json.loads(body))
            params.update({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
        else:
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            operation = form.pop("Action", "")
            params = form
        self.calls.append(Call(service=service, operation=operation, params=params, url=url))
        status = self.failures.pop(operation, 0)
        if status:
            return _response(
                url,
                status,
                json.dumps({"__type": "ServiceUnavailable", "message": "injected"}),
                "application/x-amz-json-1.1",
            )
        return getattr(self, f"_{operation}", self._unknown)(url, params)

    def _unknown(self, url: str, params: dict[str, Any]) -> AWSResponse:
        raise AssertionError(f"unexpected AWS call to {url}: {params}")

    def _Publish(self, url: str, params: dict[str, Any]) -> AWSResponse:
        xml = (
            '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
            f"<MessageId>{uuid.uuid4()}</MessageId></PublishResult><ResponseMetadata><RequestId>{uuid.uuid4()}"
            "</RequestId></ResponseMetadata></PublishResponse>"
        )
        return _response(url, 200, xml, "text/xml")

    def _Invoke(self, url: str, params: dict[str, Any]) -> AWSResponse:
        # An asynchronous invocation is queued by Lambda: 202 and no body. Tests deliver the
        # recorded event to the handler themselves, as Lambda would.
        return _response(url, 202, "", "application/json")

    def _SendEmail(self, url: str, params: dict[str, Any]) -> AWSResponse:
        return _response(url, 200, json.dumps({"MessageId": str(uuid.uuid4())}), "application/json")

    def _GetSecretValue(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = self.secret_name(params["SecretId"])
        refused = self._secret_refused(url, name)
        if refused:
            return refused
        stage = params.get("VersionStage", "AWSCURRENT")
        value = self.secrets.get(name, {}).get(stage)
        if value is None:
            body = {
                "__type": "ResourceNotFoundException",
                "message": f"Secrets Manager can't find {name} {stage}",
            }
            return _response(url, 400, json.dumps(body), "application/x-amz-json-1.1")
        body = {
            "ARN": f"arn:aws:secretsmanager:eu-west-2:000000000000:secret:{name}-AbCdEf",
            "Name": name,
            "SecretString": value,
            "VersionId": str(uuid.uuid4()),
            "VersionStages": [stage],
            "CreatedDate": 1,
        }
        return _response(url, 200, json.dumps(body), "application/x-amz-json-1.1")

    def _DescribeStacks(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = params.get("StackName", "")
        outputs = self.stack_outputs.get(name)
        if outputs is None:
            return _no_stack(url, name)
        members = "".join(
            f"<member><OutputKey>{escape(k)}</OutputKey><OutputValue>{escape(v)}</OutputValue></member>"
            for k, v in outputs.items()
        )
        parameters = "".join(
            f"<member><ParameterKey>{escape(k)}</ParameterKey><ParameterValue>{escape(v)}</ParameterValue></member>"
            for k, v in self.stack_parameters.get(name, {}).items()
        )
        status = self.stack_status.get(name, "CREATE_COMPLETE")
        xml = (
            '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
            f"<Stacks><member><StackName>{name}</StackName><StackId>id</StackId><CreationTime>2026-01-01T00:00:00Z"
            f"</CreationTime><StackStatus>{status}</StackStatus><Parameters>{parameters}</Parameters>"
            f"<Outputs>{members}</Outputs></member></Stacks>"
            "</DescribeStacksResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DescribeStacksResponse>"
        )
        return _response(url, 200, xml, "text/xml")

    def _DescribeStackResources(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = params.get("StackName", "")
        if name not in self.stack_outputs:
            return _no_stack(url, name)
        members = "".join(
            f"<member><StackName>{escape(name)}</StackName><StackId>id</StackId>"
            f"<LogicalResourceId>{escape(logical)}</LogicalResourceId>"
            f"<PhysicalResourceId>{escape(physical)}</PhysicalResourceId><ResourceType>{escape(kind)}</ResourceType>"
            "<Timestamp>2026-01-01T00:00:00Z</Timestamp><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
            for logical, physical, kind in self.stack_resources.get(name, [])
        )
        xml = (
            '<DescribeStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            f"<DescribeStackResourcesResult><StackResources>{members}</StackResources></DescribeStackResourcesResult>"
            "<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DescribeStackResourcesResponse>"
        )
        return _response(url, 200, xml, "text/xml")

    # -- Secrets Manager beyond reading ------------------------------------------------------

    def secret_name(self, secret_id: str) -> str:
        """A secret's name from its name or ARN (arn:...:secret:NAME-AbCdEf)."""
        if secret_id.startswith("arn:") and ":secret:" in secret_id:
            return re.sub(r"-[A-Za-z0-9]{6}$", "", secret_id.split(":secret:", 1)[1])
        return secret_id

    def _secret_refused(self, url: str, name: str) -> AWSResponse | None:
        if name in self.secrets_denied:
            body = {
                "__type": "AccessDeniedException",
                "message": f"User: arn:aws:iam::{ACCOUNT}:user/operator is not authorized to perform: "
                f"secretsmanager:GetSecretValue on resource: {name} because no identity-based policy allows it",
            }
            return _response(url, 400, json.dumps(body), "application/x-amz-json-1.1")
        if name in self.secrets_deleted:
            body = {
                "__type": "InvalidRequestException",
                "message": "You can't perform this operation on the secret because it was marked for deletion.",
            }
            return _response(url, 400, json.dumps(body), "application/x-amz-json-1.1")
        return None

    def _DescribeSecret(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = self.secret_name(params["SecretId"])
        if name not in self.secrets:
            body = {
                "__type": "ResourceNotFoundException",
                "message": "Secrets Manager can't find the specified secret.",
            }
            return _response(url, 400, json.dumps(body), "application/x-amz-json-1.1")
        stages = {f"v-{stage.lower()}": [stage] for stage in self.secrets[name]}
        body = {
            "ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf",
            "Name": name,
            "LastChangedDate": 1_764_000_000,
            "VersionIdsToStages": stages,
        }
        if name in self.secrets_deleted:
            body["DeletedDate"] = 1_764_100_000
        return _response(url, 200, json.dumps(body), "application/x-amz-json-1.1")

    def _PutSecretValue(self, url: str, params: dict[str, Any]) -> AWSResponse:
        """A new AWSCURRENT; the old current becomes AWSPREVIOUS and the old previous is dropped."""
        name = self.secret_name(params["SecretId"])
        refused = self._secret_refused(url, name)
        if refused:
            return refused
        stages = self.secrets.setdefault(name, {})
        if "AWSCURRENT" in stages:
            stages["AWSPREVIOUS"] = stages["AWSCURRENT"]
        stages["AWSCURRENT"] = params["SecretString"]
        body = {
            "ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf",
            "Name": name,
            "VersionId": params.get("ClientRequestToken") or str(uuid.uuid4()),
            "VersionStages": ["AWSCURRENT"],
        }
        return _response(url, 200, json.dumps(body), "application/x-amz-json-1.1")

    # -- Lambda, Scheduler, SES account, SNS subscriptions -----------------------------------

    def _GetFunctionConfiguration(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = params["FunctionName"]
        if name not in self.functions:
            return _rest_error(url, 404, "ResourceNotFoundException", f"Function not found: {name}")
        body = {
            "FunctionName": name,
            "FunctionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "Runtime": "python3.13",
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "Environment": {"Variables": self.functions[name]},
            "TracingConfig": {"Mode": "Active"},
        }
        return _response(url, 200, json.dumps(body), "application/json")

    def _GetSchedule(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = params["Name"]
        if name not in self.schedules:
            return _rest_error(url, 404, "ResourceNotFoundException", f"Schedule {name} does not exist.")
        group = params.get("groupName", "default")
        body = {
            "Arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}",
            "Name": name,
            "GroupName": group,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            **self.schedules[name],
        }
        return _response(url, 200, json.dumps(body), "application/json")

    def _GetAccount(self, url: str, params: dict[str, Any]) -> AWSResponse:
        body = {
            "ProductionAccessEnabled": self.ses_production,
            "SendingEnabled": self.ses_sending,
            "EnforcementStatus": "HEALTHY" if self.ses_sending else "SHUTDOWN",
            "DedicatedIpAutoWarmupEnabled": False,
            "SendQuota": {
                "Max24HourSend": 50000.0 if self.ses_production else 200.0,
                "MaxSendRate": 14.0 if self.ses_production else 1.0,
                "SentLast24Hours": 3.0,
            },
        }
        return _response(url, 200, json.dumps(body), "application/json")

    def _GetEmailIdentity(self, url: str, params: dict[str, Any]) -> AWSResponse:
        identity = params["EmailIdentity"]
        status = self.ses_identities.get(identity)
        if status is None:
            return _rest_error(url, 404, "NotFoundException", f"Email identity {identity} does not exist.")
        body = {
            "IdentityType": "EMAIL_ADDRESS" if "@" in identity else "DOMAIN",
            "VerificationStatus": status,
            "VerifiedForSendingStatus": status == "SUCCESS",
            "FeedbackForwardingStatus": True,
        }
        return _response(url, 200, json.dumps(body), "application/json")

    def _GetSuppressedDestination(self, url: str, params: dict[str, Any]) -> AWSResponse:
        address = params["EmailAddress"]
        reason = self.ses_suppressed.get(address)
        if reason is None:
            return _rest_error(
                url,
                404,
                "NotFoundException",
                f"Email address {address} does not exist on your suppression list.",
            )
        body = {
            "SuppressedDestination": {
                "EmailAddress": address,
                "Reason": reason,
                "LastUpdateTime": 1_764_000_000,
            }
        }
        return _response(url, 200, json.dumps(body), "application/json")

    def _ListSubscriptionsByTopic(self, url: str, params: dict[str, Any]) -> AWSResponse:
        topic = params["TopicArn"]
        members = "".join(
            f"<member><TopicArn>{escape(topic)}</TopicArn><Protocol>{escape(sub['Protocol'])}</Protocol>"
            f"<SubscriptionArn>{escape(sub['SubscriptionArn'])}</SubscriptionArn><Owner>{ACCOUNT}</Owner>"
            f"<Endpoint>{escape(sub['Endpoint'])}</Endpoint></member>"
            for sub in self.subscriptions.get(topic, [])
        )
        xml = (
            '<ListSubscriptionsByTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
            f"<ListSubscriptionsByTopicResult><Subscriptions>{members}</Subscriptions></ListSubscriptionsByTopicResult>"
            "<ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></ListSubscriptionsByTopicResponse>"
        )
        return _response(url, 200, xml, "text/xml")


def _response(
    url: str, status: int, body: str, content_type: str, headers: Mapping[str, str] | None = None
) -> AWSResponse:
    data = body.encode()
    return AWSResponse(
        url,
        status,
        {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})},
        _Raw(data),
    )


def _rest_error(url: str, status: int, code: str, message: str) -> AWSResponse:
    """An error the way the REST-JSON services (SES v2, Lambda, Scheduler) send one."""
    return _response(
        url, status, json.dumps({"message": message}), "application/json", {"x-amzn-ErrorType": code}
    )


def _no_stack(url: str, name: str) -> AWSResponse:
    xml = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id "
        f"{escape(name)} does not exist</Message></Error><RequestId>x</RequestId></ErrorResponse>"
    )
    return _response(url, 400, xml, "text/xml")


_REST_ROUTES = [
    ("POST", re.compile(r"^/v2/email/outbound-emails$"), "SendEmail", ()),
    ("GET", re.compile(r"^/v2/email/account$"), "GetAccount", ()),
    ("GET", re.compile(r"^/v2/email/identities/([^/]+)$"), "GetEmailIdentity", ("EmailIdentity",)),
    (
        "GET",
        re.compile(r"^/v2/email/suppression/addresses/([^/]+)$"),
        "GetSuppressedDestination",
        ("EmailAddress",),
    ),
    (
        "GET",
        re.compile(r"^/2015-03-31/functions/([^/]+)/configuration$"),
        "GetFunctionConfiguration",
        ("FunctionName",),
    ),
    ("GET", re.compile(r"^/schedules/([^/]+)$"), "GetSchedule", ("Name",)),
    ("POST", re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$"), "Invoke", ("FunctionName",)),
]


def _rest_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    for verb, pattern, operation, names in _REST_ROUTES:
        match = pattern.match(path)
        if match and method == verb:
            return operation, {n: unquote(v) for n, v in zip(names, match.groups(), strict=True)}
    return f"{method} {path}", {}


def install(monkeypatch: Any, fake: AwsFake) -> AwsFake:
    real_send = URLLib3Session.send

    def send(self: URLLib3Session, request: Any) -> Any:
        answer = fake.handle(request)
        return answer if answer is not None else real_send(self, request)

    monkeypatch.setattr(URLLib3Session, "send", send)
    return fake


# -- "sam deploy" of template.yaml, as the fake sees it ------------------------------------------

# What CloudFormation resource types the SAM resources become.
_DEPLOYED_TYPES = {
    "AWS::Serverless::Function": "AWS::Lambda::Function",
    "AWS::Serverless::LayerVersion": "AWS::Lambda::LayerVersion",
    "AWS::Serverless::HttpApi": "AWS::ApiGatewayV2::Api",
}


class Template:
    """template.yaml evaluated for one stack: parameters, conditions, Ref, Sub, If, GetAtt.

    Enough of CloudFormation's intrinsic functions to say what a deployed stack's outputs,
    function environments and schedules are for given parameter values.
    """

    def __init__(
        self,
        doc: dict[str, Any],
        stack: str,
        parameters: Mapping[str, str] | None = None,
        physical: Mapping[str, str] | None = None,
    ) -> None:
        self.doc = doc
        self.stack = stack
        self.parameters = {k: str(v.get("Default", "")) for k, v in doc.get("Parameters", {}).items()}
        unknown = set(parameters or {}) - set(self.parameters)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        self.parameters.update(parameters or {})
        self.physical = dict(physical or {})
        self.resources: dict[str, dict[str, Any]] = doc["Resources"]

    # -- identities of deployed things ---------------------------------------------------------

    def physical_id(self, logical: str) -> str:
        if logical in self.physical:
            return self.physical[logical]
        kind = self.resources[logical]["Type"]
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{self.stack}-{logical}-1A2B3C"
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{self.stack}-{logical}-1A2B3C"
        if kind == "AWS::SecretsManager::Secret":
            name = self.value(self.resources[logical]["Properties"]["Name"])
            return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AbCdEf"
        if kind == "AWS::Serverless::HttpApi":
            return "a1b2c3d4e5"
        return f"{self.stack}-{logical}-1A2B3C"[:64]

    def attribute(self, logical: str, name: str) -> str:
        ref = self.physical_id(logical)
        kind = self.resources[logical]["Type"]
        if name == "Arn" and kind == "AWS::SQS::Queue":
            return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{ref.rsplit('/', 1)[1]}"
        if name == "QueueName":
            return ref.rsplit("/", 1)[1]
        if name == "Arn" and kind == "AWS::DynamoDB::Table":
            return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{ref}"
        if name == "Arn":
            return f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{ref}"
        if name == "RegionalDomainName":
            return f"d-abc123xyz.execute-api.{REGION}.amazonaws.com"
        return f"{ref}.{name}"

    def _pseudo(self, name: str) -> str:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": self.stack,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }[name]

    def _ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        return self.physical_id(name)

    # -- intrinsic functions -------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        return bool(self.value(self.doc["Conditions"][name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(key, arg)] = node.items()
            fn = key.removeprefix("Fn::")
            if fn == "Ref" and arg == "AWS::NoValue":
                return _NO_VALUE  # the property (or list item) is left out
            if fn == "Ref":
                return self._ref(arg)
            if fn == "Condition":
                return self.condition(arg)
            if fn == "If":
                name, yes, no = arg
                return self.value(yes if self.condition(name) else no)
            if fn == "Equals":
                left, right = (self.value(a) for a in arg)
                return str(left) == str(right)
            if fn == "Not":
                return not self.value(arg[0])
            if fn == "And":
                return all(self.value(a) for a in arg)
            if fn == "Or":
                return any(self.value(a) for a in arg)
            if fn == "GetAtt":
                logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.attribute(logical, attr)
            if fn == "Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
                return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), extra), text)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not _NO_VALUE}

    def _sub(self, name: str, extra: Mapping[str, str]) -> str:
        if name in extra:
            return str(extra[name])
        if "." in name and not name.startswith("AWS::"):
            logical, attr = name.split(".", 1)
            return self.attribute(logical, attr)
        return self._ref(name)

    # -- what a deployment holds -------------------------------------------------------------------

    def present(self, logical: str) -> bool:
        condition = self.resources[logical].get("Condition")
        return condition is None or self.condition(condition)

    def functions(self) -> dict[str, dict[str, str]]:
        """Logical id -> the deployed function's environment (Globals merged in)."""
        base = self.doc.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        out = {}
        for logical, res in self.resources.items():
            if res["Type"] == "AWS::Serverless::Function":
                own = res["Properties"].get("Environment", {}).get("Variables", {})
                values = {k: self.value(v) for k, v in {**base, **own}.items()}
                out[logical] = {k: str(v) for k, v in values.items() if v is not _NO_VALUE}
        return out

    def schedules(self) -> dict[str, dict[str, Any]]:
        """Logical id (function + event name, as SAM names them) -> the schedule's definition."""
        out = {}
        for logical, res in self.resources.items():
            if res["Type"] != "AWS::Serverless::Function":
                continue
            for event, spec in res["Properties"].get("Events", {}).items():
                if spec["Type"] == "ScheduleV2":
                    props = spec["Properties"]
                    out[f"{logical}{event}"] = {
                        "State": props.get("State", "ENABLED"),
                        "ScheduleExpression": self.value(props["ScheduleExpression"]),
                        "Description": props.get("Description", ""),
                        "Target": {
                            "Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.physical_id(logical)}",
                            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/{self.stack}-{logical}{event}Role",
                            "Input": props.get("Input", ""),
                        },
                    }
        return out

    def outputs(self) -> dict[str, str]:
        out = {}
        for key, spec in self.doc.get("Outputs", {}).items():
            if "Condition" in spec and not self.condition(spec["Condition"]):
                continue
            out[key] = str(self.value(spec["Value"]))
        return out


def load_template() -> dict[str, Any]:
    import yaml

    from local.dynamodb import TEMPLATE, _CfnLoader

    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506


def deploy(
    fake: AwsFake,
    stack: str,
    *,
    parameters: Mapping[str, str] | None = None,
    physical: Mapping[str, str] | None = None,
) -> Template:
    """Put what `sam deploy` of template.yaml leaves behind into the fake, and return the evaluated template.

    `physical` pins resources to real names (e.g. {"Table": <a DynamoDB Local table>}).
    """
    template = Template(load_template(), stack, parameters, physical)
    fake.stack_outputs[stack] = template.outputs()
    fake.stack_parameters[stack] = dict(template.parameters)
    resources = [
        (logical, template.physical_id(logical), _DEPLOYED_TYPES.get(res["Type"], res["Type"]))
        for logical, res in template.resources.items()
        if template.present(logical)
    ]
    for logical, env in template.functions().items():
        fake.functions[template.physical_id(logical)] = env
    for logical, schedule in template.schedules().items():
        name = f"{stack}-{logical}-9Z8Y7X"
        resources.append((logical, name, "AWS::Scheduler::Schedule"))
        fake.schedules[name] = schedule
    fake.stack_resources[stack] = resources
    return template

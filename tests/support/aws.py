"""AWS services we cannot run here (SNS, SES, Secrets Manager, CloudFormation), faked at
botocore's HTTP transport. DynamoDB requests to DynamoDB Local pass through untouched.

Every intercepted request is recorded (service, operation, parameters as sent on
the wire), so tests assert on exactly what hookline sent.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


@dataclass
class AwsFake:
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {stage: value}
    stack_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, int] = field(default_factory=dict)  # operation -> HTTP status to answer once

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
        if target:
            operation = target.split(".")[-1]
            params = json.loads(body or b"{}")
        elif service == "email":
            operation = "SendEmail" if urlsplit(url).path.endswith("/outbound-emails") else urlsplit(url).path
            params = json.loads(body or b"{}")
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

    def _SendEmail(self, url: str, params: dict[str, Any]) -> AWSResponse:
        return _response(url, 200, json.dumps({"MessageId": str(uuid.uuid4())}), "application/json")

    def _GetSecretValue(self, url: str, params: dict[str, Any]) -> AWSResponse:
        name = params["SecretId"]
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
            xml = (
                f"<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id "
                f"{name} does not exist</Message></Error><RequestId>x</RequestId></ErrorResponse>"
            )
            return _response(url, 400, xml, "text/xml")
        members = "".join(
            f"<member><OutputKey>{k}</OutputKey><OutputValue>{v}</OutputValue></member>"
            for k, v in outputs.items()
        )
        xml = (
            '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult>'
            f"<Stacks><member><StackName>{name}</StackName><StackId>id</StackId><CreationTime>2026-01-01T00:00:00Z"
            f"</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>{members}</Outputs></member></Stacks>"
            "</DescribeStacksResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></DescribeStacksResponse>"
        )
        return _response(url, 200, xml, "text/xml")


def _response(url: str, status: int, body: str, content_type: str) -> AWSResponse:
    data = body.encode()
    return AWSResponse(
        url, status, {"Content-Type": content_type, "Content-Length": str(len(data))}, _Raw(data)
    )


def install(monkeypatch: Any, fake: AwsFake) -> AwsFake:
    real_send = URLLib3Session.send

    def send(self: URLLib3Session, request: Any) -> Any:
        answer = fake.handle(request)
        return answer if answer is not None else real_send(self, request)

    monkeypatch.setattr(URLLib3Session, "send", send)
    return fake

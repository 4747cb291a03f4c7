"""What every group of doctor's checks shares: a check's line, the deployed stack as
CloudFormation describes it, and how an AWS error is told."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hookline.config import Config

if TYPE_CHECKING:
    from hookline.poll.fetch import Fetcher

OK, WARN, FAIL = "ok", "warn", "FAIL"

FUNCTIONS = {"PollFeedsFunction": "poll", "ApprovalsFunction": "approvals", "PublishFunction": "publish"}

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (physical id, resource type)

    def physical(self, logical: str) -> str | None:
        found = self.resources.get(logical)
        return found[0] if found else None

    def of_type(self, kind: str) -> list[tuple[str, str]]:
        return sorted((logical, phys) for logical, (phys, t) in self.resources.items() if t == kind)


def error_of(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError, or the exception's name and text."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return str(err.get("Code", "")), str(err.get("Message", "")) or str(exc)
    return type(exc).__name__, str(exc)


def read_stack(cfn: Any, name: str) -> Stack:
    """Outputs, parameters and resources of a deployed stack; raises LookupError when there is none."""
    from botocore.exceptions import ClientError

    try:
        described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        code, message = error_of(exc)
        if code == "ValidationError" and "does not exist" in message:
            raise LookupError(message) from None
        raise
    resources = cfn.describe_stack_resources(StackName=name).get("StackResources", [])
    return Stack(
        name=name,
        status=described["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        resources={
            r["LogicalResourceId"]: (r.get("PhysicalResourceId", ""), r["ResourceType"]) for r in resources
        },
    )


def host_of(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


class DoctorBase:
    """The parts each group of checks reads; Doctor sets them."""

    config: Config
    client: ClientFactory
    fetcher: Fetcher
    config_source: str

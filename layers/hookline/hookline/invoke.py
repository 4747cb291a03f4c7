"""Asynchronous invocation of another hookline function (Lambda's `Event` invocation type).

The one place a function hands work to another: the approvals function has no time to fetch
pages (10 s timeout, a person waiting), so a "Draft this" is passed to the poll function, which
composes the entry as a poll would. Lambda queues the event and answers 202 at once.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any


class InvokeError(Exception):
    pass


class FunctionInvoker:
    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name
        self._client = client

    @cached_property
    def client(self) -> Any:
        if self._client is not None:
            return self._client
        import boto3  # only on the requests that invoke: not in the approvals function's cold start

        return boto3.client("lambda")

    def invoke_async(self, payload: dict[str, Any]) -> None:
        resp = self.client.invoke(
            FunctionName=self.function_name,
            InvocationType="Event",
            Payload=json.dumps(payload).encode("utf-8"),
        )
        if resp.get("StatusCode") != 202:
            raise InvokeError(
                f"{self.function_name} did not accept the event (HTTP {resp.get('StatusCode')})"
            )

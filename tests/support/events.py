"""Handler events built from the files in events/ (the same files `sam local invoke -e` takes)."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from local.bridge import LambdaContext
from tests.support.paths import EVENTS


def load(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def api_event(method: str, url: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    """events/approvals.json, pointed at another route, query and form body."""
    event = copy.deepcopy(load("approvals"))
    parts = urlsplit(url)
    event["rawPath"] = parts.path
    event["rawQueryString"] = parts.query
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = parts.path
    event.pop("pathParameters", None)
    if parts.query:
        event["queryStringParameters"] = dict(parse_qsl(parts.query, keep_blank_values=True))
    else:
        event.pop("queryStringParameters", None)
    if form is not None:
        event["body"] = urlencode(form)
        event["isBase64Encoded"] = False
        event["headers"]["content-type"] = "application/x-www-form-urlencoded"
    return event


def context(name: str = "Function", timeout: float = 30) -> LambdaContext:
    return LambdaContext(function_name=name, timeout_seconds=timeout)


def call(handler: Any, event: dict[str, Any], timeout: float = 30) -> Any:
    return handler.lambda_handler(event, context(timeout=timeout))

"""HTTP API: the review page, decisions, the approver's queue and the pause switch.

Every domain error becomes an answer here and nowhere else (STATUS, `refused`).
Tokens travel in query strings and form bodies, so nothing here logs the event,
a query string or a body.
"""

from __future__ import annotations

import gc
import time
import traceback
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.utilities.typing import LambdaContext

from hookline.approval.review import Approvals, Page
from hookline.approval.views import error_page, security_headers
from hookline.errors import BadRequest, Conflict, Forbidden, HooklineError, Invalid, NotFound
from hookline.services import Services
from hookline.settings import read_settings

if TYPE_CHECKING:
    from hookline.poll.linkcheck import PageCheck

logger = Logger()
app = APIGatewayHttpResolver()
copy_config_to_registered_loggers(source_logger=logger, include={"hookline"})

MAX_FORM_BYTES = 16_384
# A changed link is checked while the approver waits: well inside the function's 10 s timeout.
LINK_CHECK_SECONDS = 6.0
STATUS = {BadRequest: 400, Forbidden: 403, NotFound: 404, Conflict: 409, Invalid: 422}
TITLES = {
    400: "Nothing was changed",
    403: "This link cannot be used",
    404: "Not found",
    409: "Already decided",
    422: "The post needs a change",
}


@lru_cache(maxsize=1)
def services() -> Services:
    built = Services(read_settings())
    _ = built.config  # a broken config stops the function here, before it answers anything
    return built


def approvals() -> Approvals:
    s = services()
    return Approvals(s.config, s.store, s.signer, s.clock, s.poll_invoker, link_checker=_link_checker)


def _link_checker(url: str) -> PageCheck:
    from hookline.poll.linkcheck import preflight

    s = services()
    fetcher = s.fetcher.bounded(time.monotonic() + LINK_CHECK_SECONDS)
    return preflight(fetcher, url, s.config.organisation.tz, clock=s.clock)


def _html(page: Page) -> Response[str]:
    return Response(status_code=page.status, body=page.html, headers=security_headers())


def _form() -> dict[str, list[str]]:
    body = app.current_event.decoded_body or ""
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("The form is too large. Nothing was changed.")
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=20, strict_parsing=False)
    except ValueError:
        raise BadRequest("The form could not be read. Nothing was changed.") from None


@app.get("/drafts/<draft_id>")
def review(draft_id: str) -> Response[str]:
    token = app.current_event.get_query_string_value("token", "") or ""
    return _html(approvals().review(draft_id, token))


@app.post("/drafts/<draft_id>")
def decide(draft_id: str) -> Response[str]:
    return _html(approvals().decide(draft_id, _form()))


@app.get("/queue")
def queue() -> Response[str]:
    return _html(approvals().queue(app.current_event.get_query_string_value("token", "") or ""))


@app.post("/skips/<feed_id>/<key>")
def draft_skip(feed_id: str, key: str) -> Response[str]:
    return _html(approvals().draft_skip(feed_id, key, _form()))


@app.post("/controls/pause")
def pause() -> Response[str]:
    return _html(approvals().set_pause(_form(), paused=True))


@app.post("/controls/resume")
def resume() -> Response[str]:
    return _html(approvals().set_pause(_form(), paused=False))


@app.exception_handler(HooklineError)
def refused(exc: HooklineError) -> Response[str]:
    status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 400)
    logger.info("request refused", extra={"status": status, "path": app.current_event.path, "why": str(exc)})
    return _html(Page(status, error_page(status, TITLES.get(status, "Request refused"), str(exc))))


@app.not_found
def not_found(exc: Exception) -> Response[str]:
    return _html(Page(404, error_page(404, "Not found", "There is nothing at this address.")))


@app.exception_handler(Exception)
def crashed(exc: Exception) -> Response[str]:
    # The type and where it happened only: an exception's message may quote what it was handed.
    where = [
        f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} {f.name}"
        for f in traceback.extract_tb(exc.__traceback__)
    ]
    logger.error(
        "request failed",
        extra={"path": app.current_event.path, "error": type(exc).__name__, "where": where[-8:]},
    )
    message = "Something went wrong on our side and nothing was changed. Try again in a minute."
    return _html(Page(500, error_page(500, "Something went wrong", message)))


@logger.inject_lambda_context(clear_state=True, log_event=False)  # the event holds tokens: never log it
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return app.resolve(event, context)
    finally:
        _settle()


_settled = False


def _settle() -> None:
    """Once the first request has loaded everything the function uses (boto3, the templates),
    move those ~90,000 long-lived objects out of the garbage collector's way: otherwise every
    full collection walks them all, a 60-110 ms pause that lands on some approver's request
    (measured in `make bench`). Freezing costs microseconds; nothing is collected first, so the
    first request's answer is not delayed."""
    global _settled
    if not _settled:
        _settled = True
        gc.freeze()

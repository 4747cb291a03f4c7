"""Approvals functions in separate processes, as separate Lambda containers behind one API.

Within one process powertools keeps the current event on a class attribute, so one container
serves one request at a time, as Lambda does; concurrency across containers needs processes.
"""

from __future__ import annotations

import multiprocessing
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _container(env: dict[str, str], ports: Any, stop: Any) -> None:
    """A child process: one approvals function behind the API Gateway bridge."""
    os.environ.update(env)
    import functions.approvals.app as approvals
    from local.bridge import Bridge

    # API Gateway queues a burst; socketserver's listen backlog of 5 would reset it instead.
    Bridge.request_queue_size = 128
    bridge = Bridge(approvals.lambda_handler, port=0).start()
    ports.put(bridge.server_address[1])
    stop.wait(120)
    bridge.stop()


@contextmanager
def approval_containers(count: int) -> Iterator[list[str]]:
    """`count` approvals functions with this process's deployment environment; yields their base URLs."""
    context = multiprocessing.get_context("spawn")
    ports, stop = context.Queue(), context.Event()
    env = {k: v for k, v in os.environ.items() if k.startswith(("HOOKLINE_", "AWS_", "POWERTOOLS_"))}
    env["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    children = [context.Process(target=_container, args=(env, ports, stop)) for _ in range(count)]
    for child in children:
        child.start()
    try:
        yield [f"http://127.0.0.1:{ports.get(timeout=90)}" for _ in children]
    finally:
        stop.set()
        for child in children:
            child.join(30)


def send(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    """A form POST (or a GET without a form), as a browser sends it: (status, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if form is not None else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - loopback only
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()

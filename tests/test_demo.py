"""`make demo` as a new user meets it: a review link, one click, a DRY-RUN POST line, a clean stop."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from local.dynamodb import free_port
from tests.support.paths import ROOT

pytestmark = pytest.mark.slow


def _reader(stream, lines: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        lines.put(line.rstrip("\n"))


def wait_for(lines: queue.Queue[str], pattern: str, seen: list[str], timeout: float = 90) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(seen[-40:]))


def test_the_demo_prints_a_review_link_that_approves_into_a_dry_run_post():
    port = free_port()
    env = {**os.environ, "PORT": str(port), "POLL_EVERY": "2", "PUBLISH_EVERY": "1"}
    # The checkout under test's package, whichever checkout the venv was installed from.
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "hookline"), env.get("PYTHONPATH", "")])
    env.pop("FEED", None)
    demo = subprocess.Popen(
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_reader, args=(demo.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        # Each review link is a full URL on a line of its own
        link = wait_for(lines, rf"^(http://127\.0\.0\.1:{port}/drafts/[0-9a-f]+\?token=\S+)$", seen).group(1)
        with urllib.request.urlopen(link, timeout=10) as page:  # noqa: S310 - loopback only
            html = page.read().decode()
        assert page.status == 200
        assert 'name="action" value="approve"' in html

        # Pressing Approve is a form POST with the button's action and the hidden token
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
        form = urllib.parse.urlencode({"token": token, "action": "approve"}).encode()
        request = urllib.request.Request(link.split("?")[0], data=form, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            assert "Approved" in answer.read().decode()

        # And the dry-run publisher prints the post
        post = wait_for(lines, r"^DRY-RUN POST: (.+)$", seen).group(1)
        assert "utm_source=x" in post
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=30)
    time.sleep(0.5)
    while not lines.empty():
        seen.append(lines.get())
    assert demo.returncode == 0
    assert "hookline demo: stopped everything it started." in seen
    # DynamoDB Local (a Java child) is gone with it
    leftovers = subprocess.run(
        ["pgrep", "-f", f"DynamoDBLocal.jar.*-port {port}"], capture_output=True, text=True
    )
    assert leftovers.stdout.strip() == ""

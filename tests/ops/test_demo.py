"""`make demo` as a new user meets it: a review link, one click, a DRY-RUN POST line, a clean stop."""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from html import unescape

import pytest

from hookline import weighted_length
from hookline.compose.measure import bluesky_length, mastodon_length
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


def html_text(fragment: str) -> str:
    """The post's text as the page shows it: exactly what is sent."""
    return unescape(re.sub(r"<[^>]+>", "", fragment))


def typed(command: str) -> subprocess.CompletedProcess[str]:
    """A command line run as a user would paste it: from the checkout, with no AWS settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("HOOKLINE_")}
    env["PYTHONPATH"] = str(ROOT / "layers" / "hookline")  # the checkout under test's package
    return subprocess.run(shlex.split(command), cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_the_demo_prints_a_review_link_that_approves_into_a_dry_run_post():
    port = free_port()
    # The publish schedule is an hour away: the post can only come from the table's stream
    env = {**os.environ, "PORT": str(port), "POLL_EVERY": "2", "PUBLISH_EVERY": "3600"}
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
        # The start-up block says where the table is, and the commands to run against it
        table = wait_for(lines, r"^  table:     (\S+) ", seen).group(1)
        endpoint = wait_for(lines, r"^  endpoint:  (http://127\.0\.0\.1:\d+)$", seen).group(1)
        config = wait_for(lines, r"^  config:    (\S+) ", seen).group(1)
        assert config == ".local/demo-config.yaml"
        status = wait_for(lines, r"^    (\S+ -m hookline status .*)$", seen).group(1)
        pause = wait_for(lines, r"^    (\S+ -m hookline pause .*)$", seen).group(1)
        resume = wait_for(lines, r"^    (\S+ -m hookline resume .*)$", seen).group(1)
        assert f"--endpoint {endpoint} --table {table}" in status
        assert f"--config {config}" in status

        # Typed as printed, from a shell with no AWS settings at all, they work first time
        ran = typed(status)
        assert ran.returncode == 0, ran.stderr
        assert re.search(r"^  (new|ok) +demo: last poll", ran.stdout, re.M), ran.stdout  # the demo's one feed
        assert "Publishing: running" in ran.stdout
        ran = typed(pause)
        assert ran.returncode == 0, ran.stderr
        assert re.fullmatch(r"publishing paused by .+ \(cli\): Trying the crisis switch\n", ran.stdout)
        assert re.search(
            r"^PAUSED by .+ \(cli\) at .+: Trying the crisis switch$", typed(status).stdout, re.M
        )
        ran = typed(resume)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith("publishing resumed by ")
        assert "Publishing: running" in typed(status).stdout

        # Each review link is a full URL on a line of its own
        link = wait_for(lines, rf"^(http://127\.0\.0\.1:{port}/drafts/[0-9a-f]+\?token=\S+)$", seen).group(1)
        with urllib.request.urlopen(link, timeout=10) as page:  # noqa: S310 - loopback only
            html = page.read().decode()
        assert page.status == 200
        assert 'name="action" value="approve"' in html
        # The sample's links are on a host X counts as a link, so the page's count is X's
        text = html_text(re.search(r'<p class="text" id="preview-x">(.*?)</p>', html, re.S).group(1))
        count = 280 - int(re.search(r'data-left aria-live="polite">(\d+) characters left', html).group(1))
        assert count == weighted_length(text)
        [url] = re.findall(r"https?://\S+", text)
        assert urllib.parse.urlsplit(url).hostname == "news.example.org"
        assert count == len(text) - len(url) + 23
        assert "the link counts 23)" in html

        # Pressing Approve is a form POST with the button's action and the hidden token
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
        form = urllib.parse.urlencode({"token": token, "action": "approve"}).encode()
        request = urllib.request.Request(link.split("?")[0], data=form, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            result = answer.read().decode()
        assert "Approved" in result and "Posting now" in result

        # And the dry-run publisher prints the post once per network: X, Bluesky, Mastodon, started by
        # the approval itself (long before the hourly schedule)
        posts = {}
        for _ in range(3):
            found = wait_for(lines, r"^DRY-RUN POST: \[(x|bluesky|mastodon)\] (.+)$", seen, timeout=30)
            posts[found.group(1)] = found.group(2)
        assert sorted(posts) == ["bluesky", "mastodon", "x"]
        for network, post in posts.items():
            assert f"utm_source={network}" in post
            assert "http://news.example.org:" in post
        # Each within its own network's limit, as that network counts it
        assert weighted_length(posts["x"]) <= 280
        assert bluesky_length(posts["bluesky"]) <= 300 and len(posts["bluesky"].encode()) <= 3000
        assert mastodon_length(posts["mastodon"]) <= 500
        # And composing Mastodon's asked no server on the internet for its limits (the demo
        # posts nowhere; the example's Mastodon server is a real one)
        assert not [line for line in seen if "Mastodon limits not read" in line]

        # The review page, opened again, shows it published (the line is printed as the post is
        # made, its record a moment later)
        for _ in range(20):
            with urllib.request.urlopen(link, timeout=10) as page:  # noqa: S310 - loopback only
                html = page.read().decode()
            if "Being published now" not in html:
                break
            time.sleep(0.25)
        assert "Published" in html and "Dry run: nothing was sent to X" in html
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

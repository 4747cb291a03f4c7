"""The block `make demo` prints once it is up: where its table is, and the commands to point at it.

A newcomer's next step after the demo is `status` or the crisis switch; without the table
name and DynamoDB Local's port (a free one, different each run) they cannot be typed.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path


def _shown(path: Path | str) -> str:
    """A path as the user would type it from where they started the demo."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def python_command() -> str:
    venv = Path(sys.executable)
    try:
        return str(venv.relative_to(Path.cwd()))  # `.venv/bin/python`, as the README types it
    except ValueError:
        return str(venv)


def commands(table: str, endpoint: str, config: Path | str) -> dict[str, str]:
    """The exact `status`, `pause` and `resume` command lines for this demo's table."""
    base = [python_command(), "-m", "hookline"]
    where = ["--endpoint", endpoint, "--table", table]
    lines = {
        "status": [*base, "status", *where, "--config", _shown(config)],
        "pause": [*base, "pause", *where, "--reason", "Trying the crisis switch"],
        "resume": [*base, "resume", *where],
    }
    return {name: shlex.join(argv) for name, argv in lines.items()}


def startup_block(
    *,
    table: str,
    endpoint: str,
    config: Path | str,
    feed_url: str,
    approvals: str,
    sample_host: str | None,
) -> list[str]:
    run = commands(table, endpoint, config)
    lines = [
        "hookline demo: ready",
        f"  table:     {table} (DynamoDB Local, in memory: gone when the demo stops)",
        f"  endpoint:  {endpoint}",
        f"  config:    {_shown(config)} (config/hookline.yaml with only the demo's feed, any hour)",
        f"  feed:      {feed_url}",
    ]
    if sample_host:
        lines.append(
            f"             ({sample_host} is this machine inside the demo only, so X counts the sample's "
            "links as links: 23 each; a browser outside the demo cannot open them)"
        )
    lines += [
        f"  approvals: {approvals}",
        "  from another terminal in this directory (no AWS account or settings needed):",
        f"    {run['status']}",
        f"    {run['pause']}",
        f"    {run['resume']}",
    ]
    if os.environ.get("PYTHONPATH"):
        lines.append(f"  (with the same PYTHONPATH={os.environ['PYTHONPATH']} this demo runs with)")
    return lines

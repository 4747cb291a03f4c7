"""A static check: every fetch of a URL taken from feed content goes through the guarded client.

The guard lives in `feeds.Fetcher.get` and is on unless a call says `configured=True`.
So two things are checked over the domain package and the handlers' source:

- only the modules in RAW_CLIENTS make HTTP connections of their own (each for a host the
  operator configured, with its reason), and nothing else imports an HTTP library;
- `configured=True` (the unguarded first hop) appears only in CONFIGURED, the places
  that fetch a URL the operator named.

A new fetch of feed content through `Fetcher.get` is guarded by default; one that
bypasses the Fetcher, or marks feed content as configured, fails here until it is
reviewed and listed with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

SOURCES = sorted(
    [*(ROOT / "layers" / "hookline" / "hookline").rglob("*.py"), *(ROOT / "functions").glob("*/app.py")]
)
HTTP_LIBRARIES = {
    "urllib3",
    "requests",
    "httpx",
    "aiohttp",
    "http.client",
    "urllib.request",
    "tweepy",
    "socket",
}

# module (relative to ROOT) -> (the libraries it may use, why that is not feed content)
RAW_CLIENTS: dict[str, tuple[set[str], str]] = {
    "layers/hookline/hookline/poll/fetch.py": ({"urllib3"}, "the Fetcher itself: the guard is in it"),
    "layers/hookline/hookline/poll/netguard.py": ({"socket"}, "name resolution and inet_aton, no connection"),
    "layers/hookline/hookline/approval/notify.py": ({"urllib3"}, "POSTs to the webhook URL in the config"),
    "layers/hookline/hookline/publish/xapi.py": (
        {"requests", "tweepy"},
        "X's API, the corporate account's server",
    ),
    "layers/hookline/hookline/publish/networks/http.py": (
        {"urllib3"},
        "the corporate accounts' servers in the config (Bluesky's PDS, the Mastodon server); a card "
        "image or any other URL from a page must be fetched with the Fetcher, not here",
    ),
}
# (module, function) -> why the URL it fetches is one the operator named
CONFIGURED: dict[tuple[str, str], str] = {
    ("layers/hookline/hookline/poll/run.py", "_poll_feed"): "the feed URLs in the config",
    ("layers/hookline/hookline/ops/preview.py", "read_source"): "preview's SOURCE argument",
    ("layers/hookline/hookline/ops/doctor/feeds.py", "check_feed"): "the feed URLs in the config",
}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            found.update(lib for lib in HTTP_LIBRARIES if name == lib or name.startswith(lib + "."))
    return found


def _configured_calls(tree: ast.AST) -> list[tuple[str, int]]:
    """(enclosing function, line) of every call that passes configured=<anything but False>."""
    calls: list[tuple[str, int]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                for keyword in child.keywords:
                    plain_false = isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                    if keyword.arg == "configured" and not plain_false:
                        calls.append((function, child.lineno))
            visit(child, name)

    visit(tree, "<module>")
    return calls


def test_the_sources_are_found():
    assert len(SOURCES) > 20
    assert all(module in map(_rel, SOURCES) for module in RAW_CLIENTS)


def test_only_the_listed_modules_use_an_http_library_and_only_the_listed_ones():
    unlisted = {}
    for path in SOURCES:
        used = _imports(ast.parse(path.read_text(encoding="utf-8")))
        allowed = RAW_CLIENTS.get(_rel(path), (set(), ""))[0]
        if used - allowed:
            unlisted[_rel(path)] = sorted(used - allowed)
    assert unlisted == {}, (
        "these modules make connections of their own, around the guarded Fetcher: fetch through "
        "hookline.poll.fetch.Fetcher, or (for a host the operator configured) list them in RAW_CLIENTS with why"
    )


def test_only_operator_named_urls_are_fetched_unguarded():
    found = {}
    for path in SOURCES:
        for function, line in _configured_calls(ast.parse(path.read_text(encoding="utf-8"))):
            found.setdefault((_rel(path), function), []).append(line)
    assert set(found) == set(CONFIGURED), (
        "configured=True turns the address guard off for a URL's first hop: only a URL the operator "
        "named may use it (list it in CONFIGURED with why); anything from feed content must not"
    )


def test_the_fetchers_requests_are_all_inside_get():
    # Within fetch.py, the pool is used in Fetcher.get (the configured hop) and Fetcher._guarded only.
    tree = ast.parse((ROOT / "layers/hookline/hookline/poll/fetch.py").read_text(encoding="utf-8"))
    users: set[str] = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.Attribute) and node.attr in (
                    "request",
                    "urlopen",
                    "connection_from_host",
                ):
                    users.add(function.name)
    assert users == {"get", "_guarded"}

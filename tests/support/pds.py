"""A real Bluesky PDS on loopback (local/pds.mjs: @atproto/dev-env's TestNetworkNoAppView).

Started once per test session by the `pds` fixture. Accounts are made as a person makes
them: createAccount, then an app password (what hookline is given in production).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from tests.support.paths import ROOT

START_TIMEOUT = 120  # about 7 s on a quiet machine; far longer when the cores are shared


@dataclass(frozen=True)
class PdsAccount:
    handle: str
    did: str
    password: str  # the account's password (for the test's own checks)
    app_password: str  # what hookline is given


@dataclass
class Pds:
    url: str
    process: subprocess.Popen[bytes]
    tmpdir: str
    accounts: dict[str, PdsAccount] = field(default_factory=dict)

    def xrpc(
        self,
        nsid: str,
        body: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        query: dict[str, str] | None = None,
        method: str | None = None,
    ) -> dict[str, Any]:
        from urllib.parse import urlencode

        url = f"{self.url}/xrpc/{nsid}" + (f"?{urlencode(query)}" if query else "")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(  # noqa: S310
            url, data=json.dumps(body).encode() if body is not None else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310 - the local PDS, http
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{nsid}: HTTP {exc.code} {exc.read()[:300]!r}") from None

    def account(self, handle: str) -> PdsAccount:
        if handle not in self.accounts:
            password = f"pw-{handle}-0123456789"
            made = self.xrpc(
                "com.atproto.server.createAccount",
                {"handle": handle, "email": f"{handle.split('.')[0]}@example.org", "password": password},
            )
            app = self.xrpc(
                "com.atproto.server.createAppPassword", {"name": "hookline"}, token=made["accessJwt"]
            )
            self.accounts[handle] = PdsAccount(handle, made["did"], password, app["password"])
        return self.accounts[handle]

    def records(self, did: str, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        listed = self.xrpc(
            "com.atproto.repo.listRecords", query={"repo": did, "collection": collection, "limit": "100"}
        )
        return list(listed["records"])

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def start() -> Pds:
    script = ROOT / "local" / "pds.mjs"
    if not (ROOT / "node_modules" / "@atproto" / "dev-env").is_dir():
        raise RuntimeError("the local PDS needs @atproto/dev-env: run `npm ci` (make test does)")
    tmpdir = tempfile.mkdtemp(prefix="hookline-pds-")
    process = subprocess.Popen(
        ["node", str(script)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(tmpdir, "pds.log"), "wb"),  # noqa: SIM115 - lives as long as the server
        env={**os.environ, "TMPDIR": tmpdir},
    )
    ready: list[bytes] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    if not ready or not ready[0]:
        process.kill()
        with open(os.path.join(tmpdir, "pds.log"), encoding="utf-8", errors="replace") as handle:
            log = handle.read()[-2000:]
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise RuntimeError(f"the local PDS did not start within {START_TIMEOUT}s:\n{log}")
    info = json.loads(ready[0])
    # dev-env names itself localhost; ask 127.0.0.1 directly (the socket guard allows only that).
    return Pds(url=info["url"].replace("localhost", "127.0.0.1"), process=process, tmpdir=tmpdir)

"""`make demo`: the whole pipeline on this machine, no Docker, no AWS account.

DynamoDB Local holds the table (created from template.yaml); a local web server
serves a sample feed dated relative to now (or FEED=url is watched instead); the
three Lambda handlers run in this process with the same event files as
`sam local invoke`; the approvals function answers on http://127.0.0.1:3000
through a bridge that builds the API Gateway HTTP API event; publishing is a
dry run that prints `DRY-RUN POST: ...`. An approval reaches the publish handler
as in AWS, through the table's stream and the template's filter (local/streams.py),
so the post follows within a second or two; the publish schedule (PUBLISH_EVERY,
300 s as in the template) is the safety net. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import argparse
import importlib
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from local import dynamodb
from local.bridge import Bridge, LambdaContext, load_event
from local.hosts import SAMPLE_HOST, map_hosts
from local.sample import serve_sample
from local.startup import startup_block
from local.streams import StreamTrigger
from local.webserver import WebServer

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"


def demo_config(feed_url: str, base: Path) -> Path:
    """The project's config with one feed (the sample or FEED), posting allowed at any hour."""
    data: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    # A config that names its accounts keeps them; one that does not (the project's config, with
    # its single X `account:`) gets every network the example configures, so the demo shows
    # X, Bluesky and Mastodon. All of them dry-run. The example is the project's own, wherever
    # the config given lives.
    if "accounts" not in data:
        example = yaml.safe_load((ROOT / "config" / "hookline.example.yaml").read_text(encoding="utf-8"))
        data.pop("account", None)
        data["accounts"] = example["accounts"]
    own_feed = next((f for f in data.get("feeds", []) if f.get("source", "own") == "own"), {})
    data["feeds"] = [
        {
            "id": "demo",
            "url": feed_url,
            "kind": "publication",
            "source": "own",
            "rules": own_feed.get("rules", "publications"),
        }
    ]
    data.setdefault("polling", {})["initial_drafts"] = 3
    data["pacing"] = {
        **data.get("pacing", {}),
        "min_spacing_minutes": 0,
        "window": {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "23:59:59",
        },
    }
    own = data.setdefault("organisation", {}).setdefault("own_domains", [])
    own.append(urlsplit(feed_url).hostname or "127.0.0.1")
    STATE.mkdir(exist_ok=True)
    path = STATE / "demo-config.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def keep_mastodon_defaults(services: Any) -> None:
    """The demo posts nowhere, so it asks no Mastodon server for its limits (the example's server
    is a real one on the internet): it keeps Mastodon's defaults in the table, freshly read as far
    as the poll can tell, so the poll composes with them and requests nothing."""
    from hookline.compose.measure import MASTODON_CHARACTERS, MASTODON_URL_WEIGHT
    from hookline.poll.instance import CONTROL

    account = services.config.accounts.mastodon
    if account is None:
        return
    services.store.put_control(
        CONTROL,
        {
            "server": account.base_url,
            "max_characters": MASTODON_CHARACTERS,
            "url_weight": MASTODON_URL_WEIGHT,
            "read_at": services.clock().isoformat(),
        },
    )


class LocalInvoker:
    """hookline.invoke.FunctionInvoker's part locally: the event runs in a thread, as Lambda
    runs an asynchronous invocation while the caller has already answered."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def invoke_async(self, payload: dict[str, Any]) -> None:
        context = LambdaContext(function_name="PollFeedsFunction", timeout_seconds=120)
        threading.Thread(target=self.function, args=(payload, context), daemon=True).start()


def handler(name: str) -> Any:
    return importlib.import_module(f"functions.{name}.app").lambda_handler


def run(
    feed: str | None, port: int, poll_every: float, publish_every: float, base_config: Path | None = None
) -> int:
    stop = threading.Event()
    started: list[Any] = []

    def shutdown(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        print("hookline demo: starting DynamoDB Local (Java) ...", flush=True)
        ddb = dynamodb.start()
        started.append(ddb)
        table = ddb.create_table("hookline-demo", streams=True)
        web = WebServer().start()
        started.append(web)
        if not feed:
            map_hosts({SAMPLE_HOST: "127.0.0.1"})  # see local/hosts.py: X counts such links as links
        feed_url = feed or serve_sample(web, host=SAMPLE_HOST)
        config = demo_config(feed_url, base_config or ROOT / "config" / "hookline.yaml")
        os.environ.update(
            {
                **dynamodb.LOCAL_ENV,
                "HOOKLINE_TABLE": table,
                "HOOKLINE_CONFIG": str(config),
                "HOOKLINE_DYNAMODB_ENDPOINT": ddb.endpoint,
                "HOOKLINE_SIGNING_KEY": secrets.token_urlsafe(32),
                "HOOKLINE_BASE_URL": f"http://127.0.0.1:{port}",
                "HOOKLINE_PUBLISHER": "dry-run",
                "HOOKLINE_NOTIFIER": "echo",
                # The demo's feed links to pages on this machine's loopback server.
                "HOOKLINE_ALLOW_PRIVATE_ADDRESSES": "true",
                "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_SERVICE_NAME": "hookline",
                "POWERTOOLS_METRICS_NAMESPACE": "hookline",
            }
        )
        bridge = Bridge(handler("approvals"), port=port).start()
        started.append(bridge)
        poll, publish = handler("poll_feeds"), handler("publish")
        # "Draft this" on the queue page: Lambda's asynchronous invocation of the poll function,
        # played here by a thread running its handler.
        approvals_app = importlib.import_module("functions.approvals.app")
        approvals_app.services().overrides["poll_invoker"] = LocalInvoker(poll)
        poll_event = load_event(str(ROOT / "events" / "poll_feeds.json"))
        publish_event = load_event(str(ROOT / "events" / "publish.json"))
        # In Lambda each run has an environment of its own; here the stream's runs and the
        # schedule's share the handler's module state, so they take turns.
        publishing = threading.Lock()

        def run_publish(event: dict[str, Any]) -> dict[str, Any]:
            with publishing:
                result: dict[str, Any] = publish(
                    event, LambdaContext(function_name="PublishFunction", timeout_seconds=60)
                )
            if result.get("account_problem"):
                print(f"hookline demo: publishing held: {result['account_problem']}", flush=True)
            return result

        trigger = StreamTrigger(ddb.client(), ddb.streams_client(), table, run_publish).start()
        started.append(trigger)

        from hookline.approval.links import LinkSigner
        from hookline.services import Services
        from hookline.settings import read_settings

        services = Services(read_settings())
        signer: LinkSigner = services.signer
        for line in startup_block(
            table=table,
            endpoint=ddb.endpoint,
            config=config,
            feed_url=feed_url,
            approvals=f"{bridge.base_url} (the approvals function behind a local HTTP API)",
            sample_host=None if feed else SAMPLE_HOST,
        ):
            print(line, flush=True)
        for approver in services.config.approvers:
            print(f"queue link for {approver.name}:")
            print(signer.queue_url(signer.queue_token(approver.email)), flush=True)
        print(
            "hookline demo: open a review link below, approve, and watch for DRY-RUN POST (within seconds: "
            "the table's stream starts the publisher, as in AWS). Ctrl-C stops.",
            flush=True,
        )

        next_poll = 0.0
        next_publish = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_poll:
                keep_mastodon_defaults(services)
                summary = poll(
                    poll_event, LambdaContext(function_name="PollFeedsFunction", timeout_seconds=120)
                )
                for failure in summary.get("failed", []):
                    print(f"hookline demo: feed problem: {failure}", flush=True)
                next_poll = now + poll_every
            if now >= next_publish:
                run_publish(publish_event)
                next_publish = now + publish_every
            stop.wait(0.5)
        return 0
    except RuntimeError as exc:
        print(f"hookline demo: {exc}", file=sys.stderr)
        return 2
    finally:
        for thing in reversed(started):
            thing.stop()
        print("hookline demo: stopped everything it started.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--feed", default=os.environ.get("FEED") or None, help="feed URL to watch (default: sample)"
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--poll-every", type=float, default=float(os.environ.get("POLL_EVERY", "60")))
    parser.add_argument("--publish-every", type=float, default=float(os.environ.get("PUBLISH_EVERY", "300")))
    parser.add_argument(
        "--config", type=Path, default=None, help="the config to start from (default: config/hookline.yaml)"
    )
    args = parser.parse_args(argv)
    return run(args.feed, args.port, args.poll_every, args.publish_every, args.config)


if __name__ == "__main__":
    raise SystemExit(main())

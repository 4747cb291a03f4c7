"""Command line: `python -m hookline COMMAND`. Run with --help for the commands."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TextIO

from hookline.clock import utc_now
from hookline.config import Config, ConfigError, default_config_path, load_config, parse_config

if TYPE_CHECKING:
    from hookline.store import Store

FALLBACK_CONFIG: dict[str, Any] = {
    "organisation": {"name": "Your organisation", "homepage": "https://www.example.org/", "timezone": "UTC"},
    "accounts": {"x": {"handle": "example", "user_id": "1"}},
    "approvers": [{"name": "Approver", "email": "approver@example.org"}],
    "feeds": [{"id": "example", "url": "https://www.example.org/feed"}],
}


def _config(path: str | None, *, fallback: bool = False, err: TextIO = sys.stderr) -> Config:
    if path is None and fallback and not default_config_path().exists():
        print(
            f"note: {default_config_path()} not found; using built-in defaults (pass --config FILE)", file=err
        )
        return parse_config(FALLBACK_CONFIG, "built-in defaults")
    return load_config(path)


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} problem(s)", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return 2
    own = sum(1 for f in config.feeds if f.source == "own")
    print(
        f"{args.file or default_config_path()}: OK: {len(config.feeds)} feeds ({own} own, {len(config.feeds) - own} "
        f"partner), {len(config.approvers)} approvers, posting as {', '.join(_accounts(config))}",
        file=out,
    )
    return 0


def _accounts(config: Config) -> list[str]:
    accounts = config.accounts
    named = []
    if accounts.x:
        named.append(f"@{accounts.x.bare_handle} on X (user id {accounts.x.user_id})")
    if accounts.bluesky:
        named.append(f"@{accounts.bluesky.bare_handle} on Bluesky ({accounts.bluesky.did})")
    if accounts.mastodon:
        host = accounts.mastodon.server.host
        named.append(
            f"@{accounts.mastodon.bare_acct}@{host} on Mastodon (account id {accounts.mastodon.account_id})"
        )
    return named


def cmd_export(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate the YAML config and write it as JSON, the form the deployed functions read."""
    config = load_config(args.source)
    data = config.model_dump(mode="json", exclude_unset=True)
    with open(args.dest, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, ensure_ascii=False)
    print(f"{args.source}: valid; written to {args.dest}", file=out)
    return 0


def cmd_preview(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from hookline.feeds import Fetcher
    from hookline.linkcheck import LinkChecker
    from hookline.preview import SourceError, preview_source

    config = _config(args.config, fallback=True, err=err)
    fetcher = Fetcher.for_polling(config.polling)  # what preview reads, it reads as a poll would
    now = utc_now()
    linkcheck = None if args.offline else LinkChecker(fetcher, config.organisation.tz, clock=lambda: now)
    failed = 0

    def run(source: str) -> tuple[str, list[Any], str | None]:
        try:
            lines = list(
                preview_source(
                    source,
                    config,
                    now,
                    fetcher,
                    offline=args.offline,
                    draft_all=args.draft_all,
                    linkcheck=linkcheck,
                    explain=args.explain,
                )
            )
        except SourceError as exc:
            return source, [], str(exc)
        return source, lines, None

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(args.sources)))) as pool:
        for _source, lines, error in pool.map(run, args.sources):
            if error:
                failed += 1
                print(f"hookline: {error}", file=err)
                continue
            for line in lines:
                if args.json:
                    print(json.dumps(line.as_json(), ensure_ascii=False), file=out)
                else:
                    _print_human(line, out)
    return 2 if failed else 0


def _print_human(line: Any, out: TextIO) -> None:
    from hookline.preview import human_lines

    for text in human_lines(line):
        print(text, file=out)


def _store(args: argparse.Namespace) -> Store:
    import boto3

    from hookline.store import Store

    table = args.table or os.environ.get("HOOKLINE_TABLE")
    endpoint = getattr(args, "endpoint", None) or os.environ.get("HOOKLINE_DYNAMODB_ENDPOINT")
    if args.stack:
        from botocore.exceptions import BotoCoreError, ClientError

        cfn = boto3.client("cloudformation")
        try:
            outputs = cfn.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
        except ClientError as exc:
            raise SystemExit(
                f"hookline: cannot read stack {args.stack}: {exc.response['Error']['Message']}"
            ) from None
        except BotoCoreError as exc:
            raise SystemExit(f"hookline: cannot read stack {args.stack}: {exc}") from None
        table = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName"), None)
        if not table:
            raise SystemExit(f"stack {args.stack} has no TableName output; is it a hookline stack?")
    if not table:
        raise SystemExit("say which deployment: --stack NAME, or --table NAME (or set HOOKLINE_TABLE)")
    return Store(table, client=boto3.client("dynamodb", endpoint_url=endpoint or None))


def cmd_pause(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from hookline.approval import pause_from_cli
    from hookline.errors import BadRequest

    paused = args.command == "pause"
    by = args.by or os.environ.get("USER") or "operator"
    try:
        message = pause_from_cli(
            _store(args), paused=paused, reason=args.reason, by=f"{by} (cli)", now=utc_now()
        )
    except BadRequest as exc:
        print(f"hookline: {exc}", file=err)
        return 2
    print(message, file=out)
    return 0


def cmd_status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from hookline.status import status_report

    store = _store(args)
    config = _config(args.config, fallback=True, err=err)
    report = status_report(store, config, utc_now(), skips=args.skips)
    if args.json:
        print(json.dumps(report, default=str, indent=2), file=out)
    else:
        from hookline.status import format_status

        print(format_status(report), file=out)
    return 0


def cmd_rules(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`rules report`: the team's decisions per rule term, and the config changes they suggest."""
    from hookline.rules_report import build, format_report

    if args.days < 1:
        print("hookline: --days must be at least 1", file=err)
        return 2
    report = build(_store(args), _config(args.config, fallback=True, err=err), utc_now(), args.days)
    if args.json:
        print(json.dumps(report.as_json(), indent=2), file=out)
    else:
        print(format_report(report), file=out)
    return 0


def cmd_rebaseline(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    store = _store(args)
    if not store.rebaseline(args.feed):
        print(f"hookline: feed {args.feed!r} has never been polled in this deployment", file=err)
        return 2
    print(
        f"feed {args.feed}: the next poll takes its current entries as history (nothing is drafted)", file=out
    )
    return 0


def cmd_doctor(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check a deployed stack end to end (see hookline.doctor); writes nothing anywhere."""
    import boto3

    from hookline.doctor import run
    from hookline.feeds import Fetcher

    config = load_config(args.config)
    fetcher = Fetcher.for_polling(config.polling)  # each feed checked within the poll's own limits
    session = boto3.session.Session(region_name=args.region)

    def client(service: str) -> Any:
        return session.client(service)  # type: ignore[call-overload]

    return run(
        args.stack,
        config,
        out,
        client=client,
        fetcher=fetcher,
        config_source=str(args.config or default_config_path()),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m hookline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("preview", help="show what would be drafted from feeds (no writes)")
    p.add_argument("sources", nargs="+", metavar="SOURCE", help="feed URL or local file")
    p.add_argument("--config", help="config file (default: $HOOKLINE_CONFIG, else config/hookline.yaml)")
    p.add_argument("--json", action="store_true", help="one JSON object per entry and line")
    p.add_argument("--offline", action="store_true", help="fetch nothing but the SOURCE URLs")
    p.add_argument("--draft-all", action="store_true", help="compose every entry as if the rules drafted it")
    p.add_argument("--explain", action="store_true", help="also show every rule term tried on each entry")
    p.set_defaults(func=cmd_preview)

    p = sub.add_parser("validate-config", help="check a config file; every error with its field path")
    p.add_argument(
        "file", nargs="?", help="config file (default: $HOOKLINE_CONFIG, else config/hookline.yaml)"
    )
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("export-config", help="validate a YAML config and write the JSON that gets deployed")
    p.add_argument("source")
    p.add_argument("dest")
    p.set_defaults(func=cmd_export)

    def deployment(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", help="CloudFormation stack name of the deployment")
        p.add_argument("--table", help="DynamoDB table name (instead of --stack)")
        p.add_argument("--endpoint", help="DynamoDB endpoint URL (DynamoDB Local)")

    for name, text in (
        ("pause", "hold all publishing at once (crisis switch)"),
        ("resume", "release publishing"),
    ):
        p = sub.add_parser(name, help=text)
        deployment(p)
        p.add_argument("--reason", required=name == "pause", help="why (shown to approvers)")
        p.add_argument("--by", help="who is acting (default: $USER)")
        p.set_defaults(func=cmd_pause)

    p = sub.add_parser("status", help="feeds, drafts, spend and pause state of a deployment")
    deployment(p)
    p.add_argument("--config", help="config file")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--skips", type=int, default=0, metavar="N", help="also show each feed's N most recent skip reasons"
    )
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "doctor", help="check a deployment is wired correctly (secrets, X account, SES, feeds, schedules)"
    )
    p.add_argument("--stack", required=True, help="CloudFormation stack name of the deployment")
    p.add_argument(
        "--config", help="the config deployed with it (default: $HOOKLINE_CONFIG, else config/hookline.yaml)"
    )
    p.add_argument("--region", help="AWS region of the stack (default: your AWS CLI profile's)")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("rules", help="how the team decided each rule's drafts, and what to change")
    rules = p.add_subparsers(dest="rules_command", required=True)
    p = rules.add_parser("report", help="per rule, term and feed: drafted, approved, rejected, expired")
    deployment(p)
    p.add_argument("--config", help="the config deployed with it")
    p.add_argument("--days", type=int, default=90, help="drafts made in the last N days (default 90)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rules)

    p = sub.add_parser("rebaseline", help="take a feed's current entries as history (after a site migration)")
    deployment(p)
    p.add_argument("feed", help="feed id from the config")
    p.set_defaults(func=cmd_rebaseline)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out, err))
    except ConfigError as exc:
        print(f"hookline: config {exc.source} is not usable:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return 2

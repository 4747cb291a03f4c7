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
from hookline.config import (
    Config,
    ConfigError,
    ConfigNotFound,
    default_config_path,
    load_config,
    parse_config,
)

if TYPE_CHECKING:
    from hookline.store import Store

# DynamoDB Local accepts any credentials and region; these are what the demo uses.
LOCAL_REGION = "eu-west-2"
LOCAL_CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


class CliError(Exception):
    """A mistake in how the command was run: one sentence saying what is wrong and what to type."""


FALLBACK_CONFIG: dict[str, Any] = {
    "organisation": {"name": "Your organisation", "homepage": "https://www.example.org/", "timezone": "UTC"},
    "accounts": {"x": {"handle": "example", "user_id": "1"}},
    "approvers": [{"name": "Approver", "email": "approver@example.org"}],
    "feeds": [{"id": "example", "url": "https://www.example.org/feed"}],
}


BUILT_IN = "hookline's built-in defaults"


def _config(path: str | None, *, fallback: bool = False, err: TextIO = sys.stderr) -> Config:
    if path is None and fallback and not default_config_path().exists():
        config = parse_config(FALLBACK_CONFIG, BUILT_IN)
        rules = config.rule_sets["publications"]
        print(
            f"hookline: no config file at {default_config_path()}, so this uses {BUILT_IN}, whose rules "
            f"draft every entry with a title and link under {rules.max_age_days:g} days old: pass "
            "--config FILE, or run from the repository's root",
            file=err,
        )
        return config
    return load_config(path)


def _config_used(path: str | None) -> str:
    """The config a command judged with, as it says so: the file, or the built-in defaults."""
    if path is None and not default_config_path().exists():
        return BUILT_IN
    return str(path) if path else str(default_config_path())


def cmd_validate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        config = load_config(args.file)
    except ConfigNotFound as exc:
        print(f"hookline: {exc.sentence()}", file=err)
        return 2
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
    from hookline.ops.preview import SourceError, judged_by, preview_source, terminal_safe
    from hookline.poll.fetch import Fetcher
    from hookline.poll.linkcheck import LinkChecker

    config = _config(args.config, fallback=True, err=err)
    used = _config_used(args.config)
    if not args.json:
        print(f"judged with {used}", file=out)
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
        for source, lines, error in pool.map(run, args.sources):
            if error:
                failed += 1
                print(f"hookline: {error}", file=err)
                continue
            if not args.json:
                print(terminal_safe(f"{source}: {judged_by(source, config)}"), file=out)
            for line in lines:
                if args.json:
                    print(json.dumps({**line.as_json(), "config": used}, ensure_ascii=False), file=out)
                else:
                    _print_human(line, out)
    return 2 if failed else 0


def _print_human(line: Any, out: TextIO) -> None:
    from hookline.ops.preview import human_lines

    for text in human_lines(line):
        print(text, file=out)


def _is_local(endpoint: str | None) -> bool:
    from urllib.parse import urlsplit

    if not endpoint:
        return False
    try:
        host = urlsplit(endpoint).hostname or ""
    except ValueError:
        return False
    return host in ("localhost", "::1") or host.startswith("127.")


def _session(args: argparse.Namespace, endpoint: str | None) -> Any:
    """A boto3 session for the command: the user's AWS settings, or, for DynamoDB Local (an
    endpoint on this machine), the dummy region and credentials it accepts when none are set."""
    import boto3

    session = boto3.session.Session(region_name=getattr(args, "region", None) or None)
    if _is_local(endpoint):
        region = session.region_name or LOCAL_REGION
        if session.get_credentials() is None:
            return boto3.session.Session(
                region_name=region,
                aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
                aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
            )
        return boto3.session.Session(region_name=region)
    if session.region_name is None:
        raise CliError(
            "no AWS region is set: add --region REGION (e.g. --region eu-west-2) or set AWS_REGION"
        )
    if session.get_credentials() is None:
        raise CliError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE, "
            "then check with `aws sts get-caller-identity`"
        )
    return session


def _client(session: Any, service: str, endpoint: str | None = None) -> Any:
    from botocore.config import Config as BotoConfig

    # A command line answers quickly or says why: no minutes of retries against a dead endpoint.
    config = BotoConfig(connect_timeout=5, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"})
    return session.client(service, endpoint_url=endpoint or None, config=config)


def _store(args: argparse.Namespace) -> Store:
    from botocore.exceptions import BotoCoreError, ClientError

    from hookline.store import Store

    table = args.table or os.environ.get("HOOKLINE_TABLE")
    endpoint = getattr(args, "endpoint", None) or os.environ.get("HOOKLINE_DYNAMODB_ENDPOINT")
    session = _session(args, endpoint)
    if args.stack:
        cfn = _client(session, "cloudformation")
        try:
            outputs = cfn.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
        except ClientError as exc:
            message = exc.response["Error"].get("Message", "")
            if "does not exist" in message:
                raise CliError(
                    f"there is no stack {args.stack!r} in {session.region_name}: check the name "
                    "(`aws cloudformation list-stacks`) or add --region REGION"
                ) from None
            raise CliError(f"cannot read stack {args.stack}: {message}") from None
        except BotoCoreError as exc:
            raise CliError(f"cannot read stack {args.stack}: {exc}") from None
        table = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "TableName"), None)
        if not table:
            raise CliError(
                f"stack {args.stack} has no TableName output, so it is not a hookline stack: "
                "pass the stack `sam deploy` created (see samconfig.toml)"
            )
    if not table:
        raise CliError(
            "say which deployment: --stack NAME, or --table NAME (or set HOOKLINE_TABLE); "
            "for the demo, use the commands `make demo` printed"
        )
    args.resolved = {"table": table, "endpoint": endpoint, "region": session.region_name}
    return Store(table, client=_client(session, "dynamodb", endpoint))


def cmd_pause(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from hookline.approval.review import pause_from_cli
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
    from hookline.ops.status import status_report

    store = _store(args)
    config = _config(args.config, fallback=True, err=err)
    report = status_report(store, config, utc_now(), skips=args.skips)
    report["config"] = _config_used(args.config)
    if args.json:
        print(json.dumps(report, default=str, indent=2), file=out)
    else:
        from hookline.ops.status import format_status

        print(format_status(report), file=out)
    return 0


def cmd_rules(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """`rules report`: the team's decisions per rule term, and the config changes they suggest."""
    from hookline.ops.rules_report import build, format_report

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
    """Check a deployed stack end to end (see hookline.ops.doctor); posts nothing."""
    from hookline.ops.doctor import run
    from hookline.poll.fetch import Fetcher

    config = load_config(args.config)
    fetcher = Fetcher.for_polling(config.polling)  # each feed checked within the poll's own limits
    session = _session(args, None)

    def client(service: str) -> Any:
        # The table holds the Bluesky session doctor reuses; the local stack's is DynamoDB Local.
        endpoint = os.environ.get("HOOKLINE_DYNAMODB_ENDPOINT") if service == "dynamodb" else None
        return session.client(service, endpoint_url=endpoint or None)

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
        p.add_argument("--region", help="AWS region (default: your AWS CLI profile's, or AWS_REGION)")

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
    _add_debug(parser)
    return parser


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """`--debug` on every command, where people type it (after the command, not before)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_debug(child)
            return
    parser.add_argument("--debug", action="store_true", help="show the traceback of any failure")


def _explain(exc: Exception, args: argparse.Namespace) -> str | None:
    """One sentence for an AWS or connection failure the user can fix, or None (a real bug)."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )

    where = getattr(args, "resolved", {})
    if isinstance(exc, NoRegionError):
        return "no AWS region is set: add --region REGION (e.g. --region eu-west-2) or set AWS_REGION"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE, "
            "then check with `aws sts get-caller-identity`"
        )
    if isinstance(exc, EndpointConnectionError):
        endpoint = where.get("endpoint")
        if endpoint:
            return (
                f"nothing answers at {endpoint}: is `make demo` still running? "
                "Use the --endpoint it printed at start-up"
            )
        return f"cannot reach AWS ({exc}): check your network and --region"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "ResourceNotFoundException" and where.get("table"):
            at = where.get("endpoint") or f"region {where.get('region')}"
            return (
                f"there is no table {where['table']!r} at {at}: check --table "
                "(the demo prints its table name; a deployment's is found with --stack NAME)"
            )
        if code in ("UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"):
            return (
                f"AWS did not accept your credentials ({error.get('Message', code)}): "
                "refresh them (`aws sso login`) and check with `aws sts get-caller-identity`"
            )
        if code in ("AccessDeniedException", "AccessDenied"):
            return f"AWS refused: {error.get('Message', code)}; use a role allowed to read the stack"
    return None


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out, err))
    except ConfigNotFound as exc:
        if getattr(args, "debug", False):
            raise
        print(f"hookline: {exc.sentence()}", file=err)
        return 2
    except ConfigError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"hookline: config {exc.source} is not usable:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return 2
    except CliError as exc:
        if getattr(args, "debug", False):
            raise
        print(f"hookline: {exc}", file=err)
        return 2
    except Exception as exc:
        sentence = _explain(exc, args)
        if sentence is None or getattr(args, "debug", False):
            raise
        print(f"hookline: {sentence} (--debug shows the traceback)", file=err)
        return 2

"""`python -m hookline doctor --stack NAME`: is a deployment wired to work, before the first real post?

It reads the stack from CloudFormation (outputs, resources) and the functions' deployed
environment from Lambda, so it checks what is really deployed rather than what a
local file says, and then checks what a person would otherwise find out the hard way:

- each secret exists and is readable, and holds what the functions expect;
- the X credentials belong to the configured corporate account (and its profile
  links the organisation's homepage and names the person behind the account, as the
  organisation's guidance asks: a warning, not a failure);
- SES can send to each approver (sender verified; in the sandbox, each approver too);
- every configured feed answers and parses;
- the schedules are enabled, and someone receives the alarms.

Each check is one line: "ok", "warn" or "FAIL" and, when it is not ok, what to do.
Only a FAIL makes the exit status non-zero. It changes nothing anywhere.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from hookline.config import Config, FeedConfig

if TYPE_CHECKING:
    from hookline.poll.fetch import Fetcher

OK, WARN, FAIL = "ok", "warn", "FAIL"

FUNCTIONS = {"PollFeedsFunction": "poll", "ApprovalsFunction": "approvals", "PublishFunction": "publish"}
X_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
MIN_SIGNING_KEY = 32
PROFILE_FIELDS = ["url", "description", "entities"]

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class XMe:
    """Who the credentials are, as X says: the user with its profile fields, and what the tokens may do."""

    data: dict[str, Any]
    access_level: str | None  # X's x-access-level header: read, read-write, read-write-directmessages


ProfileReader = Callable[[dict[str, str], Config], XMe]


@dataclass(frozen=True)
class Check:
    status: str  # OK, WARN or FAIL
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


class XCheckFailed(Exception):
    """The X API did not say who the credentials belong to; the message says what to do."""


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    outputs: dict[str, str]
    parameters: dict[str, str]
    resources: dict[str, tuple[str, str]]  # logical id -> (physical id, resource type)

    def physical(self, logical: str) -> str | None:
        found = self.resources.get(logical)
        return found[0] if found else None

    def of_type(self, kind: str) -> list[tuple[str, str]]:
        return sorted((logical, phys) for logical, (phys, t) in self.resources.items() if t == kind)


def _error(exc: Exception) -> tuple[str, str]:
    """(code, message) of a botocore ClientError, or the exception's name and text."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        return str(err.get("Code", "")), str(err.get("Message", "")) or str(exc)
    return type(exc).__name__, str(exc)


def read_stack(cfn: Any, name: str) -> Stack:
    """Outputs, parameters and resources of a deployed stack; raises LookupError when there is none."""
    from botocore.exceptions import ClientError

    try:
        described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as exc:
        code, message = _error(exc)
        if code == "ValidationError" and "does not exist" in message:
            raise LookupError(message) from None
        raise
    resources = cfn.describe_stack_resources(StackName=name).get("StackResources", [])
    return Stack(
        name=name,
        status=described["StackStatus"],
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters", [])},
        resources={
            r["LogicalResourceId"]: (r.get("PhysicalResourceId", ""), r["ResourceType"]) for r in resources
        },
    )


# -- X ---------------------------------------------------------------------------------------


def read_x_profile(credentials: dict[str, str], config: Config) -> XMe:
    """GET /2/users/me with the profile fields, through xapi's client (its timeouts and quiet
    logging); the raw response, because only its headers say whether the tokens may post."""
    from hookline.publish.xapi import ProfileUnreadable, read_profile

    try:
        data, access_level = read_profile(credentials, config.account, PROFILE_FIELDS)
    except ProfileUnreadable as exc:
        raise XCheckFailed(str(exc)) from None
    return XMe(data=data, access_level=access_level)


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def profile_links(data: dict[str, Any]) -> list[str]:
    """Every link in the profile: the website field and links in the bio, expanded from t.co."""
    entities = data.get("entities") or {}
    links = []
    for where in ("url", "description"):
        for item in (entities.get(where) or {}).get("urls") or []:
            links.append(str(item.get("expanded_url") or item.get("url") or ""))
    if data.get("url"):
        links.append(str(data["url"]))
    return [link for link in links if link]


def profile_people(data: dict[str, Any]) -> list[str]:
    """Accounts the bio names (@mentions), other than the account itself."""
    own = str(data.get("username", "")).lower()
    mentions = ((data.get("entities") or {}).get("description") or {}).get("mentions") or []
    names = [str(m.get("username", "")) for m in mentions]
    return [n for n in names if n and n.lower() != own]


# -- the checks ----------------------------------------------------------------------------


class Doctor:
    def __init__(
        self,
        config: Config,
        client: ClientFactory,
        *,
        fetcher: Fetcher,
        profile_reader: ProfileReader = read_x_profile,
        config_source: str = "the config",
    ) -> None:
        self.config = config
        self.client = client
        self.fetcher = fetcher
        self.read_profile = profile_reader
        self.config_source = config_source

    def run(self, stack_name: str) -> Iterator[Check]:
        stack: Stack | None = None
        try:
            stack = read_stack(self.client("cloudformation"), stack_name)
        except LookupError:
            yield Check(
                FAIL,
                f"stack {stack_name}",
                "not found in this region: deploy it (sam deploy --config-env ...), or pass --region",
            )
        except Exception as exc:
            code, message = _error(exc)
            yield Check(FAIL, f"stack {stack_name}", f"cannot be read ({code}: {message})")
        if stack is None:
            return
        yield self.check_stack(stack)
        envs: dict[str, dict[str, str]] = {}
        for check in self.check_functions(stack, envs):
            yield check
        yield from self.check_wiring(stack, envs)

        publish_env = envs.get("PublishFunction", {})
        x_secret = publish_env.get("HOOKLINE_X_SECRET")
        signing = next(
            (e["HOOKLINE_SIGNING_SECRET"] for e in envs.values() if "HOOKLINE_SIGNING_SECRET" in e), None
        )
        credentials: dict[str, str] | None = None
        if x_secret:
            check, value = self.check_secret(x_secret, "X credentials", _x_credentials)
            yield check
            if check.status == OK and value is not None:
                credentials = json.loads(value)
        elif envs:
            yield Check(
                FAIL, "secret X credentials", "the publish function has no HOOKLINE_X_SECRET: redeploy"
            )
        if signing:
            yield self.check_secret(signing, "link-signing key", _signing_key)[0]
        elif envs:
            yield Check(FAIL, "secret link-signing key", "no function has HOOKLINE_SIGNING_SECRET: redeploy")

        yield from self.check_other_networks(publish_env, bool(envs))
        if credentials:
            yield from self.check_x(credentials, x_secret or "")
        yield from self.check_email()
        yield from self.check_feeds()
        yield from self.check_schedules(stack)
        yield self.check_alarm_subscribers(stack)

    # -- the stack and its functions -------------------------------------------------------------

    def check_stack(self, stack: Stack) -> Check:
        name = f"stack {stack.name}"
        status = stack.status
        if status.endswith("_IN_PROGRESS"):
            return Check(
                WARN, name, f"{status}: a deploy is under way; run doctor again when it has finished"
            )
        if "ROLLBACK" in status or "FAILED" in status or status.startswith("DELETE"):
            return Check(
                FAIL,
                name,
                f"{status}: the last deploy did not go through; see why with "
                f"aws cloudformation describe-stack-events --stack-name {stack.name}, fix it and deploy again",
            )
        return Check(OK, name, status)

    def check_functions(self, stack: Stack, envs: dict[str, dict[str, str]]) -> Iterator[Check]:
        lam = self.client("lambda")
        for logical, short in FUNCTIONS.items():
            physical = stack.physical(logical)
            name = f"function {short}"
            if not physical:
                yield Check(FAIL, name, f"the stack has no {logical}: is {stack.name} a hookline stack?")
                continue
            try:
                conf = lam.get_function_configuration(FunctionName=physical)
            except Exception as exc:
                code, message = _error(exc)
                yield Check(FAIL, name, f"{physical} cannot be read ({code}: {message})")
                continue
            envs[logical] = dict((conf.get("Environment") or {}).get("Variables") or {})
            state = conf.get("State", "Active")
            if state != "Active":
                yield Check(
                    FAIL, name, f"{physical} is {state}: {conf.get('StateReason', 'see the Lambda console')}"
                )
            else:
                yield Check(OK, name, f"{physical} ({conf.get('Runtime', '?')})")

    def check_wiring(self, stack: Stack, envs: dict[str, dict[str, str]]) -> Iterator[Check]:
        publish = envs.get("PublishFunction")
        if publish is not None:
            mode = publish.get("HOOKLINE_PUBLISHER", "x")
            if mode == "shadow":
                yield Check(
                    WARN,
                    "publishing",
                    "shadow mode: the whole pipeline runs but only logs what it would post; nothing reaches X "
                    "(deploy with PublishMode=live to post)",
                )
            elif mode == "x":
                yield Check(
                    OK, "publishing", f"live: approved posts go to @{self.config.account.bare_handle}"
                )
            else:
                yield Check(
                    FAIL, "publishing", f"HOOKLINE_PUBLISHER is {mode!r}: deploy with PublishMode=live"
                )
        poll = envs.get("PollFeedsFunction")
        if poll is not None:
            base = poll.get("HOOKLINE_BASE_URL", "")
            domain = stack.parameters.get("ApprovalDomainName", "")
            if not base.startswith("https://"):
                yield Check(
                    FAIL, "approval links", f"HOOKLINE_BASE_URL is {base!r}, not an https URL: redeploy"
                )
            elif domain and _host(base) != domain.removeprefix("www."):
                yield Check(
                    FAIL, "approval links", f"start with {base}, not the custom domain {domain}: redeploy"
                )
            else:
                yield Check(OK, "approval links", f"start with {base}/drafts/")
        yield from self.check_link_guard(envs)

    def check_link_guard(self, envs: dict[str, dict[str, str]]) -> Iterator[Check]:
        """A warning, not a failure: the functions work, but a partner's feed could make them
        fetch the Lambda runtime API or anything else their network reaches."""
        from hookline.poll.netguard import ALLOW_PRIVATE_ENV, private_allowed

        allowing = [FUNCTIONS[logical] for logical in FUNCTIONS if private_allowed(envs.get(logical, {}))]
        if allowing:
            yield Check(
                WARN,
                "link guard",
                f"{ALLOW_PRIVATE_ENV} is set on the {', '.join(allowing)} function"
                f"{'s' if len(allowing) > 1 else ''}: links from feeds can reach loopback and private "
                "addresses inside AWS; it is for the local stack only: remove it and redeploy",
            )

    # -- secrets -----------------------------------------------------------------------------------

    def check_secret(
        self, secret_id: str, what: str, validate: Callable[[str], str | None]
    ) -> tuple[Check, str | None]:
        """(check, the current value when it could be read)."""
        sm = self.client("secretsmanager")
        label = f"secret {what}"
        try:
            described = sm.describe_secret(SecretId=secret_id)
        except Exception as exc:
            code, message = _error(exc)
            if code == "ResourceNotFoundException":
                return Check(
                    FAIL, label, f"{secret_id} does not exist: {_create_hint(what, secret_id)}"
                ), None
            return Check(FAIL, label, f"{secret_id} cannot be described ({code}: {message})"), None
        name = described.get("Name", secret_id)
        if described.get("DeletedDate"):
            return (
                Check(
                    FAIL,
                    label,
                    f"{name} is scheduled for deletion: aws secretsmanager restore-secret --secret-id {name}",
                ),
                None,
            )
        try:
            value = sm.get_secret_value(SecretId=secret_id).get("SecretString")
        except Exception as exc:
            code, message = _error(exc)
            return Check(FAIL, label, f"{name} exists but cannot be read ({code}: {message})"), None
        problem = validate(value or "")
        if problem:
            return Check(FAIL, label, f"{name} {problem}"), value
        stages = {s for v in (described.get("VersionIdsToStages") or {}).values() for s in v}
        note = ""
        if "AWSPREVIOUS" in stages and what == "link-signing key":
            note = "; the previous key still verifies links sent before the last rotation"
        changed = described.get("LastChangedDate")
        if isinstance(changed, datetime):
            note += f"; last changed {changed.astimezone(UTC):%Y-%m-%d}"
        return Check(OK, label, f"{name} exists and is readable{note}"), value

    def check_other_networks(self, publish_env: dict[str, str], deployed: bool) -> Iterator[Check]:
        """One line per other configured network: the secret the stack names to the publisher
        exists and holds its field (its account is checked by the publisher before it posts)."""
        for network, env_name, parameter, what, key in OTHER_NETWORKS:
            if network not in self.config.networks:
                continue
            secret_id = publish_env.get(env_name)
            if secret_id:
                yield self.check_secret(secret_id, what, functools.partial(_json_field, key=key))[0]
            elif deployed:
                yield Check(
                    FAIL,
                    f"secret {what}",
                    f"the config posts to {network.title()}, but the stack names no secret for it: "
                    f"deploy with {parameter}=<the secret's name>",
                )

    # -- X -----------------------------------------------------------------------------------------

    def check_x(self, credentials: dict[str, str], secret: str) -> Iterator[Check]:
        account = self.config.account
        try:
            answer = self.read_profile(credentials, self.config)
        except XCheckFailed as exc:
            yield Check(FAIL, "x account", str(exc))
            return
        me = answer.data
        user_id, username = str(me.get("id", "")), str(me.get("username", ""))
        if user_id != account.user_id:
            yield Check(
                FAIL,
                "x account",
                f"the credentials belong to @{username} (user id {user_id}), not the corporate account "
                f"@{account.bare_handle} (user id {account.user_id}); nothing would be posted. Store the "
                f"corporate account's tokens in {secret}, or correct account.user_id in {self.config_source}",
            )
            return
        yield Check(
            OK,
            "x account",
            f"the credentials belong to @{username} (user id {user_id}), the corporate account",
        )
        if username.lower() != account.bare_handle.lower():
            yield Check(
                WARN,
                "x account handle",
                f"the account is now @{username}, the config says @{account.bare_handle}: "
                f"update account.handle in {self.config_source} (post links use it)",
            )
        level = answer.access_level
        if level is not None and "write" not in level:
            yield Check(
                FAIL,
                "x access",
                f"the tokens may only {level}, so nothing can be posted: set the app's permissions to "
                "Read and write in the X developer portal, then regenerate the access token and secret "
                f"(tokens keep the permissions they were made with) and store them in {secret}",
            )
        else:
            yield Check(OK, "x access", f"the tokens may post ({level or 'X did not say; assumed'})")
        yield from self.check_profile(me)

    def check_profile(self, me: dict[str, Any]) -> Iterator[Check]:
        homepage = str(self.config.organisation.homepage)
        links = profile_links(me)
        if any(_host(link) == _host(homepage) for link in links):
            yield Check(OK, "x profile homepage", f"the profile links {homepage}")
        else:
            yield Check(
                WARN,
                "x profile homepage",
                f"the profile does not link the organisation's homepage ({homepage}): add it as the profile's "
                "website, so followers can find the organisation behind the account",
            )
        people = profile_people(me)
        if people:
            yield Check(OK, "x profile person", "the bio names " + ", ".join(f"@{p}" for p in people))
        else:
            yield Check(
                WARN,
                "x profile person",
                "the bio does not name the person responsible for the account: add their personal handle "
                "(e.g. 'Posts by @name'), so followers can reach a person inside the organisation",
            )

    # -- email -------------------------------------------------------------------------------------

    def check_email(self) -> Iterator[Check]:
        sender = self.config.notifications.email_sender
        if not sender:
            yield Check(
                FAIL,
                "ses sender",
                f"notifications.email_sender is not set in {self.config_source}, so approvers get no personal "
                "links: set it to an address of the organisation and verify it in SES",
            )
            return
        ses = self.client("sesv2")
        try:
            account = ses.get_account()
        except Exception as exc:
            code, message = _error(exc)
            yield Check(FAIL, "ses account", f"cannot be read ({code}: {message})")
            return
        sandbox = not account.get("ProductionAccessEnabled", False)
        if not account.get("SendingEnabled", True):
            yield Check(
                FAIL,
                "ses account",
                f"sending is paused for this account ({account.get('EnforcementStatus', 'unknown')}): "
                "see the SES console's reputation page; re-enable with "
                "aws sesv2 put-account-sending-attributes --sending-enabled",
            )
        elif sandbox:
            yield Check(
                WARN,
                "ses account",
                "in the SES sandbox: mail reaches verified addresses only, at most 200 a day; request production "
                "access: aws sesv2 put-account-details --production-access-enabled --mail-type TRANSACTIONAL "
                f'--website-url {self.config.organisation.homepage} --use-case-description "approval links '
                'for our corporate X posts, to our own staff"',
            )
        else:
            yield Check(OK, "ses account", "production access, sending enabled")

        verified, how = self._verified(ses, sender)
        if verified:
            yield Check(OK, "ses sender", f"{sender} is verified{how}")
        else:
            yield Check(FAIL, "ses sender", f"{sender} {how}")

        for approver in self.config.approvers:
            name = f"ses approver {approver.email}"
            suppressed = self._suppressed(ses, approver.email)
            if suppressed:
                yield Check(
                    FAIL,
                    name,
                    f"is on the account's suppression list ({suppressed}), so mail to it is dropped: check the "
                    f"address, then aws sesv2 delete-suppressed-destination --email-address {approver.email}",
                )
                continue
            if not sandbox:
                yield Check(OK, name, f"{approver.name} can receive mail")
                continue
            ok, how = self._verified(ses, approver.email)
            if ok:
                yield Check(OK, name, f"{approver.name} can receive mail in the sandbox: verified{how}")
            else:
                yield Check(FAIL, name, f"SES is in the sandbox and {approver.email} {how}")

    def _verified(self, ses: Any, address: str) -> tuple[bool, str]:
        """Is the address, or its domain, a verified SES identity? (verified?, how / what to do)."""
        domain = address.rsplit("@", 1)[1].lower()
        pending = None
        for identity in (address, domain):
            try:
                found = ses.get_email_identity(EmailIdentity=identity)
            except Exception as exc:
                code, message = _error(exc)
                if code == "NotFoundException":
                    continue
                return False, f"could not be checked ({code}: {message})"
            if found.get("VerifiedForSendingStatus"):
                return True, f" (through the domain {domain})" if identity == domain else ""
            pending = pending or (identity, found.get("VerificationStatus", "PENDING"))
        if pending:
            identity, status = pending
            if identity == domain:
                return False, (
                    f"is not verified: the domain {domain} is {status}; publish the DKIM records "
                    f"(aws sesv2 get-email-identity --email-identity {domain})"
                )
            return False, f"is not verified ({status}): open the link AWS mailed to {address}"
        return False, (
            f"is not verified: aws sesv2 create-email-identity --email-identity {address}, then open the link "
            "AWS mails to it"
        )

    def _suppressed(self, ses: Any, address: str) -> str | None:
        try:
            found = ses.get_suppressed_destination(EmailAddress=address)
        except Exception:
            return None  # not suppressed (NotFound), or not allowed to look: the identity check still runs
        return str(found.get("SuppressedDestination", {}).get("Reason") or "suppressed")

    # -- feeds ---------------------------------------------------------------------------------------

    def check_feeds(self) -> Iterator[Check]:
        feeds = list(enumerate(self.config.feeds))
        with ThreadPoolExecutor(max_workers=min(8, max(1, len(feeds)))) as pool:
            yield from pool.map(lambda pair: self.check_feed(*pair), feeds)

    def check_feed(self, index: int, feed: FeedConfig) -> Check:
        from hookline.poll.feeds import ParseError, parse_fetched
        from hookline.poll.fetch import FetchError

        url = str(feed.url)
        name = f"feed {feed.id}"
        try:
            result = self.fetcher.get(
                url, configured=True
            )  # the config names it; its redirects elsewhere are guarded
        except FetchError as exc:
            return Check(
                FAIL, name, f"{url}: {exc}; check feeds[{index}].url in {self.config_source}, or the site"
            )
        try:
            parsed = parse_fetched(result, feed_id=feed.id, default_tz=self.config.organisation.tz)
        except ParseError as exc:
            return Check(
                FAIL, name, f"{url} answers but is not a feed ({exc}): use the site's RSS or Atom feed URL"
            )
        moved = f"; it redirects to {result.final_url}: use that URL" if result.redirects else ""
        if not parsed.entries:
            return Check(WARN, name, f"{url} answers and parses, but has no entries{moved}")
        dates = [e.published for e in parsed.entries if e.published]
        newest = f", newest {max(dates):%Y-%m-%d}" if dates else ""
        count = len(parsed.entries)
        summary = f"{url} answers and parses: {count} {'entry' if count == 1 else 'entries'}{newest}"
        hub = websub_hub(result.body, result.headers)
        if hub:
            # Reported, not used: a one-minute poll of an unchanged feed is a 304 costing a share
            # of one invocation, while a push subscription needs a public callback route, lease
            # renewals and signature checks for a gain of under a minute (README, 'Feeds and rules').
            summary += (
                f"; it advertises a WebSub hub ({hub}), which hookline does not need: it polls every minute"
            )
        if parsed.problem:
            return Check(WARN, name, f"{summary}, with a problem feedparser worked round ({parsed.problem})")
        if moved:
            return Check(WARN, name, summary + moved)
        return Check(OK, name, summary)

    # -- schedules and alarms --------------------------------------------------------------------------

    def check_schedules(self, stack: Stack) -> Iterator[Check]:
        schedules = stack.of_type("AWS::Scheduler::Schedule")
        if not schedules:
            yield Check(FAIL, "schedules", f"{stack.name} has none: nothing polls or publishes; redeploy")
            return
        scheduler = self.client("scheduler")
        for logical, physical in schedules:
            name = f"schedule {logical}"
            what = "nothing is polled" if "Poll" in logical else "nothing is published"
            try:
                found = scheduler.get_schedule(Name=physical)
            except Exception as exc:
                code, message = _error(exc)
                yield Check(FAIL, name, f"{physical} cannot be read ({code}: {message}); {what}")
                continue
            expression = found.get("ScheduleExpression", "")
            if found.get("State") == "ENABLED":
                yield Check(OK, name, f"enabled, {expression}")
            else:
                yield Check(
                    FAIL,
                    name,
                    f"{found.get('State')}: {what}. Enable it: aws scheduler update-schedule --name {physical} "
                    f'--state ENABLED --schedule-expression "{expression}" --flexible-time-window Mode=OFF '
                    f'--target "$(aws scheduler get-schedule --name {physical} --query Target --output json)"',
                )

    def check_alarm_subscribers(self, stack: Stack) -> Check:
        topic = stack.outputs.get("AlarmTopicArn")
        if not topic:
            return Check(FAIL, "alarms", f"{stack.name} has no AlarmTopicArn output: redeploy")
        try:
            subs = self.client("sns").list_subscriptions_by_topic(TopicArn=topic).get("Subscriptions", [])
        except Exception as exc:
            code, message = _error(exc)
            return Check(WARN, "alarms", f"could not list who receives them ({code}: {message})")
        confirmed = [s for s in subs if s.get("SubscriptionArn", "").startswith("arn:")]
        pending = [s for s in subs if s not in confirmed]
        if confirmed:
            who = ", ".join(f"{s.get('Protocol')} {s.get('Endpoint')}" for s in confirmed)
            return Check(OK, "alarms", f"go to {who}")
        if pending:
            who = ", ".join(str(s.get("Endpoint")) for s in pending)
            return Check(
                WARN, "alarms", f"the subscription of {who} is not confirmed: open the link in AWS's email"
            )
        return Check(
            WARN,
            "alarms",
            "nobody receives them: deploy with AlarmEmail=you@your.org (confirm the email AWS sends), or "
            f"aws sns subscribe --topic-arn {topic} --protocol email --notification-endpoint you@your.org",
        )


_HUB_LINK = re.compile(rb"<(?:[a-z0-9]+:)?link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)


def websub_hub(body: bytes, headers: Mapping[str, str]) -> str | None:
    """The WebSub hub a feed advertises (`<link rel="hub" href=...>` in the feed, or an HTTP
    `Link: <...>; rel="hub"` header), or None. Feed content is untrusted: only an http(s) URL is
    reported, shortened."""
    found: str | None = None
    for raw in re.finditer(r'<([^>]+)>\s*;[^,]*\brel="?hub"?', headers.get("link", "")):
        found = raw.group(1)
        break
    if found is None:
        for tag in _HUB_LINK.finditer(body[:200_000]):
            attrs = {
                m.group(1).lower(): (m.group(2) or m.group(3) or b"") for m in _ATTR.finditer(tag.group(0))
            }
            if b"hub" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"href"):
                found = attrs[b"href"].decode("utf-8", "replace").strip()
                break
    if not found or not re.match(r"^https?://[^\s<>\"']+$", found):
        return None
    return found[:200]


def _x_credentials(value: str) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return "is not JSON: store {" + ", ".join(f'"{k}": "..."' for k in X_KEYS) + "}"
    if not isinstance(data, dict):
        return "is not a JSON object of the four X credentials"
    missing = [k for k in X_KEYS if not data.get(k)]
    if missing:
        return f"lacks {', '.join(missing)}: store all four of the corporate account's X credentials"
    return None


def _signing_key(value: str) -> str | None:
    from hookline.services import key_from

    key = key_from(value)
    if len(key) < MIN_SIGNING_KEY:
        return (
            f"holds a key of {len(key)} characters; use at least {MIN_SIGNING_KEY} (see docs/operations.md)"
        )
    return None


OTHER_NETWORKS = (
    (
        "bluesky",
        "HOOKLINE_BLUESKY_SECRET",
        "BlueskyAppPasswordSecretName",
        "Bluesky app password",
        "app_password",
    ),
    ("mastodon", "HOOKLINE_MASTODON_SECRET", "MastodonTokenSecretName", "Mastodon token", "access_token"),
)


def _json_field(value: str, key: str) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get(key), str) or not data[key]:
        return f'is not a JSON object with its {key}: store {{"{key}": "..."}}'
    return None


def _create_hint(what: str, secret_id: str) -> str:
    for _, _, _, other, key in OTHER_NETWORKS:
        if what == other:
            return (
                f"create it: aws secretsmanager create-secret --name {secret_id} "
                f'--secret-string file://{key}.json holding {{"{key}": "..."}} (see the README)'
            )
    if what == "X credentials":
        return (
            f"create it: aws secretsmanager create-secret --name {secret_id} "
            "--secret-string file://x-credentials.json (see the README)"
        )
    return "deploy again (the stack generates it), or set SigningKeySecretName to an existing secret"


# -- the command -------------------------------------------------------------------------------


def run(
    stack: str,
    config: Config,
    out: TextIO,
    *,
    client: ClientFactory,
    fetcher: Fetcher,
    profile_reader: ProfileReader = read_x_profile,
    config_source: str = "the config",
) -> int:
    """Print one line per check as it completes, then a summary; 1 if any check failed, else 0."""
    doctor = Doctor(
        config, client, fetcher=fetcher, profile_reader=profile_reader, config_source=config_source
    )
    counts = {OK: 0, WARN: 0, FAIL: 0}
    for check in doctor.run(stack):
        counts[check.status] += 1
        print(check.line(), file=out, flush=True)
    summary = f"{counts[OK]} ok, {counts[WARN]} warning(s), {counts[FAIL]} failed"
    if counts[FAIL]:
        print(f"doctor: {summary}: fix each FAIL above, then run doctor again", file=out)
        return 1
    print(f"doctor: {summary}: {stack} is ready", file=out)
    return 0

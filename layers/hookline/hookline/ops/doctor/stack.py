"""The stack: its state, its functions and how they are wired, its schedules and alarms."""

from __future__ import annotations

from collections.abc import Iterator

from hookline.ops.doctor.base import FAIL, FUNCTIONS, OK, WARN, Check, DoctorBase, Stack, error_of, host_of


class StackChecks(DoctorBase):
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
                code, message = error_of(exc)
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
            elif domain and host_of(base) != domain.removeprefix("www."):
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
                code, message = error_of(exc)
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
            code, message = error_of(exc)
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

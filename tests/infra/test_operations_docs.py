"""The README's deploy walk-through and docs/operations.md name commands, environments, stack
outputs and sections that must exist; these keep the words true as the code moves."""

from __future__ import annotations

import re
import tomllib

import pytest

from hookline.ops.cli import build_parser
from tests.infra.test_operations_alarms import sections
from tests.support.aws import AwsFake, deploy, load_template
from tests.support.paths import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
DESIGN = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
DOCS = {"README.md": README, "docs/operations.md": OPERATIONS, "docs/design.md": DESIGN}
MARKDOWN = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
SAMCONFIG = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))


def readme_section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


@pytest.mark.parametrize("doc", DOCS)
def test_every_hookline_command_in_the_docs_exists_with_the_options_used(doc):
    parser = build_parser()
    commands = re.findall(r"python -m hookline ([a-z-]+)((?: --?[a-z-]+(?: [^\s`-][^\s`]*)?)*)", DOCS[doc])
    assert commands
    for name, options in commands:
        args = [name, *options.split()]
        if name in ("preview",):
            args.append("https://www.example.org/feed")
        if name == "rebaseline":
            args.append("news")
        if name == "rules":  # its one subcommand, between the command and its options
            args.insert(1, "report")
        parser.parse_args([a.strip('"') for a in args])  # exits (SystemExit) on an unknown command or option


@pytest.mark.parametrize("doc", [d for d in DOCS if d != "docs/design.md"])
def test_every_environment_the_docs_deploy_is_in_samconfig(doc):
    envs = set(re.findall(r"--config-env (\w+)", DOCS[doc]))
    assert envs
    assert envs <= set(SAMCONFIG)
    for env in envs:
        stack = SAMCONFIG[env]["global"]["parameters"]["stack_name"]
        assert stack.startswith("hookline-")


def test_every_stack_output_the_runbooks_read_exists():
    outputs = set(deploy(AwsFake(), "hookline-prod").outputs())
    used = set(re.findall(r"\bout ([A-Z][a-z]\w+)", OPERATIONS))
    assert used
    assert used <= outputs, used - outputs


def test_every_parameter_the_docs_name_is_a_template_parameter():
    parameters = set(load_template()["Parameters"])
    named = set(re.findall(r"\b([A-Z][a-z][A-Za-z]+)=(?!=)", OPERATIONS + README))
    assert {"PublishMode", "AlarmEmail", "ApprovalDomainName", "ApprovalCertificateArn"} <= named
    assert named <= parameters, named - parameters


@pytest.mark.parametrize("doc", DOCS)
def test_links_into_the_runbook_resolve(doc):
    anchors = set(sections(OPERATIONS))
    for target in re.findall(r"docs/operations\.md#([a-z0-9-]+)", DOCS[doc]):
        assert target in anchors, f"{doc} links docs/operations.md#{target}, which does not exist"


def test_the_deploy_walkthrough_goes_from_credentials_to_an_approved_post_in_order():
    deploying = readme_section("Deploying")
    # The X account's part is its own section, which the walk-through sends the reader to
    assert "(#connecting-the-corporate-x-account)" in deploying
    connecting = readme_section("Connecting the corporate X account")
    assert "aws secretsmanager create-secret --name hookline/x-credentials" in connecting
    steps = [
        "aws sts get-caller-identity",  # AWS credentials
        "Connecting the corporate X account",  # X credentials stored
        "aws sesv2 create-email-identity",  # SES sender
        "python -m hookline validate-config",  # config
        "make build",
        "sam deploy --config-env dev",  # shadow trial
        "python -m hookline doctor --stack hookline-dev",
        "Approve",  # the first approved post
        "sam deploy --config-env prod",
        "python -m hookline doctor --stack hookline-prod",
    ]
    at = 0
    for step in steps:
        found = deploying.find(step, at)
        assert found >= 0, f"{step!r} is missing, or comes too early"
        at = found + len(step)
    # And the secret name it creates is the one the prod and dev stacks read
    for env in ("dev", "prod"):
        assert (
            "XCredentialsSecretName=hookline/x-credentials"
            in SAMCONFIG[env]["deploy"]["parameters"]["parameter_overrides"]
        )


@pytest.mark.parametrize("doc", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_in_the_docs_is_a_file_in_the_repository(doc):
    # A fresh clone has only the repository: a link outside it (../shared/...) is dead there
    text = doc.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'<img src="([^"]+)"', text)
    relative = [t.split("#")[0] for t in targets if not re.match(r"[a-z]+:|#", t)]
    assert relative or doc.name != "README.md"
    for target in relative:
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT), f"{doc.name} links {target}, outside the repository"
        assert path.exists(), f"{doc.name} links {target}, which does not exist"


def test_the_readme_sends_the_reader_to_the_design_in_the_repository():
    assert "[docs/design.md](docs/design.md)" in README
    assert "](../" not in README
    # and the design names the modules that exist
    for module in re.findall(r"`([a-z_]+\.py)`", DESIGN):
        found = list((ROOT / "layers" / "hookline" / "hookline").rglob(module)) + list(
            (ROOT / "local").glob(module)
        )
        assert found, f"docs/design.md names {module}, which is not in the package or local/"

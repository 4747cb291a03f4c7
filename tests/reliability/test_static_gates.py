"""The static gates `make test` relies on stay in force: every dependency pinned with hashes,
bandit's rules on the domain package and the handlers without blanket exemptions, and
every checkov check that does not fit skipped in template.yaml with its reason.

(`make security` runs checkov and the bandit rules themselves; these tests keep anyone
from quietly switching them off.)
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.reliability.system import Findings
from tests.support.aws import load_template
from tests.support.paths import ROOT

LOCKS = [
    *sorted((ROOT / "requirements").glob("*.txt")),
    ROOT / "layers" / "hookline" / "requirements.txt",
    *sorted((ROOT / "functions").glob("*/requirements.txt")),
]
# Each .in and the lock made from it (the Makefile's `lock` target).
SOURCES = {
    **{
        p: p.with_suffix(".txt")
        for p in (ROOT / "requirements").glob("*.in")
        if p.stem in ("dev", "sam", "checkov", "audit")
    },
    ROOT / "requirements" / "layer.in": ROOT / "layers" / "hookline" / "requirements.txt",
    ROOT / "requirements" / "poll_feeds.in": ROOT / "functions" / "poll_feeds" / "requirements.txt",
    ROOT / "requirements" / "publish.in": ROOT / "functions" / "publish" / "requirements.txt",
}
PINNED = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==[^\s;]+(\s*;\s*[^\\]+?)?$")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
DOMAIN = ("layers/hookline/hookline", "functions")


def requirements(path: Path) -> list[str]:
    """Logical lines (continuations joined), without comments and blank lines."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.scenario("Every dependency pinned with hashes")
def test_every_locked_requirement_is_pinned_to_one_version_with_hashes(ledger):
    found = Findings()
    lines = 0
    for lock in LOCKS:
        assert lock.exists(), lock
        for line in requirements(lock):
            lines += 1
            requirement = line.partition(" --hash")[0]
            if not PINNED.match(requirement.strip()):
                found.unsafe.append(
                    f"{lock.relative_to(ROOT)}: not pinned to one version: {requirement[:80]}"
                )
            elif not HASH.search(line):
                found.unsafe.append(f"{lock.relative_to(ROOT)}: no sha256 hash: {requirement[:80]}")
    # And each lock is up to date with what it was made from
    for source, lock in SOURCES.items():
        locked = {
            canonical(PINNED.match(r.partition(" --hash")[0].strip())["name"])
            for r in requirements(lock)
            if PINNED.match(r.partition(" --hash")[0].strip())
        }
        for line in requirements(source):
            if line.startswith("-"):
                continue
            name = canonical(re.split(r"[\[<>=!~; ]", line, maxsplit=1)[0])
            if name not in locked:
                found.unsafe.append(
                    f"{source.relative_to(ROOT)} asks for {name}, missing from {lock.relative_to(ROOT)}"
                )
    # And every install the Makefile does requires the hashes
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for install in re.findall(r"pip install[^\n]*-r (\S+)", makefile):
        line = next(x for x in makefile.splitlines() if f"-r {install}" in x)
        if "--require-hashes" not in line:
            found.unsafe.append(f"the Makefile installs {install} without --require-hashes")
    ledger.record(
        lines,
        found,
        note=f"{lines} locked requirements in {len(LOCKS)} lock files (development, SAM CLI, checkov, pip-audit, "
        "the layer and each function): each pinned to one version with sha256 hashes, each lock holding "
        "every package its .in asks for, and every pip install in the Makefile run with --require-hashes",
    )
    assert found.clean, found.summary()


@pytest.mark.scenario("Bandit's rules and checkov's checks in force")
def test_bandit_rules_cover_the_domain_package_and_handlers_and_checkov_skips_give_reasons(ledger):
    found = Findings()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]
    if "S" not in config["select"]:
        found.unsafe.append("ruff does not select bandit's rules (S)")
    for pattern, ignored in config.get("per-file-ignores", {}).items():
        if any(pattern.startswith(p) or pattern in ("*", "**", "*.py", "**/*.py") for p in DOMAIN):
            found.unsafe += [f"{pattern} ignores {rule}" for rule in ignored if rule.startswith("S")]
    if any(rule.startswith("S") for rule in config.get("ignore", [])):
        found.unsafe.append("bandit rules are ignored everywhere")
    # Exemptions in the code name one rule each and say why
    exemptions = 0
    files = [p for d in DOMAIN for p in (ROOT / d).rglob("*.py")]
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "# noqa" not in line:
                continue
            rule = re.search(r"# noqa(?::\s*(?P<codes>[A-Z0-9, ]+))?(?P<why>.*)", line)
            codes = (rule["codes"] or "").replace(" ", "").split(",") if rule and rule["codes"] else []
            where = f"{path.relative_to(ROOT)}:{number}"
            if not codes:
                found.unsafe.append(f"{where}: a blanket noqa")
            elif any(c.startswith("S") for c in codes):
                exemptions += 1
                if len((rule["why"] or "").strip(" -")) < 10:
                    found.unsafe.append(f"{where}: a bandit exemption without its reason")
    ruff = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "ruff"),
            "check",
            "--no-cache",
            "--select",
            "S",
            "--output-format",
            "concise",
            *DOMAIN,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if ruff.returncode != 0:
        found.unsafe += [f"bandit: {line}" for line in ruff.stdout.splitlines() if ":" in line][:20]
    # And each checkov check skipped in the template says why
    skips = 0
    for logical, resource in load_template()["Resources"].items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            skips += 1
            if len(str(skip.get("comment", "")).strip()) < 20:
                found.unsafe.append(f"{logical} skips {skip.get('id')} without a reason")
    ledger.record(
        len(files) + skips,
        found,
        note=f"ruff's bandit rules (S) on {len(files)} files of the domain package and the handlers, with no "
        f"per-file or global exemption and {exemptions} single-rule exemptions in the code, each with its "
        f"reason; {skips} checkov checks skipped in template.yaml, each with its reason (`make security` runs "
        "checkov offline and fails on any failed check)",
    )
    assert found.clean, found.summary()

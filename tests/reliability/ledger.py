"""What the reliability scenarios counted, and docs/reliability.md written from it.

Each scenario test is marked `@pytest.mark.scenario("name")` and reports its counts
into the session's Ledger (the `ledger` fixture). At the end of the session the
table is written to docs/reliability.md: one row per scenario, with the cases it
tried and what went wrong in them. A row passes only when its test passed and every
count of harm is zero; a scenario whose test failed before it reported still gets a
row, marked FAIL, so a broken scenario can never vanish from the table.

A run of only some scenarios (one file, `-k`) keeps the other rows from the file as
they were, so the table always covers the whole suite.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"

# The order of the table: what can lose or duplicate posts first, then hostile input, links,
# and the security gates. A scenario not listed here goes at the end.
ORDER = (
    "DynamoDB failure at every write of a poll",
    "DynamoDB failure at every write of a publish run",
    "X failure at every point of publishing",
    "Poll killed at every call, then run again",
    "Publish run killed at every call, then run again",
    "Approval killed at every call, then pressed again",
    "Two pollers and two publishers at once",
    "Bluesky failure at every call of publishing",
    "Mastodon failure at every call of publishing",
    "Bluesky publish run killed at every call, then run again",
    "Mastodon publish run killed at every call, then run again",
    "Two publishers at once on Bluesky",
    "Two publishers at once on Mastodon",
    "1,000 hostile feed entries and hostile servers",
    "Attribute and element bombs beside 50 healthy feeds",
    "Repeated entries in one document",
    "Real-world feeds in both element orders keep every link",
    "Injected mentions through partner links (every form)",
    "Oversized partner page (1.2 MB JSON-LD venue) at publishing",
    "Links from feeds at internal addresses (SSRF)",
    "Hostile payloads rendered in Chromium",
    "Forged, tampered, expired, replayed and cross-draft links",
    "Mail scanners: GET, then a form submit without a click",
    "50 concurrent decisions on one draft",
    "Least privilege: each function's IAM policy is what its code calls",
    "No credential, token or key in any log",
    "Every dependency pinned with hashes",
    "Bandit's rules and checkov's checks in force",
)

COLUMNS = (
    "scenario",
    "cases tried",
    "entries lost",
    "posts duplicated",
    "unintended state changes",
    "unsafe outcomes",
    "result",
)

HEADER = """# Reliability and security: what the suite tried, and what went wrong

Written by the reliability suite (`tests/reliability/`, part of `make test`) from what
each scenario counted in its last run. Do not edit by hand: run
`.venv/bin/python -m pytest tests/reliability` (or `make test`) and commit the result.

- **cases tried**: distinct runs of the scenario (one injected fault, one hostile
  input, one forged link, one concurrent request, ...), each followed by the check.
- **entries lost**: feed entries that should have become a draft (or a draft that should
  have been posted) and did not, once the system had run again after the fault; an
  approver who was never told of a draft counts too.
- **posts duplicated**: the same post created on X more than once (X's own timeline in
  the fake, not what hookline believes), or an entry drafted twice. For Bluesky and
  Mastodon the truth is the server's: the real PDS's records, the Mastodon fake's statuses;
  their rows count per network, and a delivery approved but neither PUBLISHED (and on the
  server) nor FAILED with the server's reason counts as lost.
- **unintended state changes**: any change to the table that the case should not have
  made (a GET, a refused decision, a scanner's submit), a draft in a state it should not
  be in, or a record that disagrees with what X actually did.
- **unsafe outcomes**: a payload rendered live in Chromium, a non-http(s) link stored,
  a hostile feed whose failure was not isolated to its own error, a credential in the
  logs, a permission granted but never used (or used but not granted).

Besides these scenarios, `make test` runs the security gates (`make security`): cfn-lint
(`sam validate --lint`) and checkov on `template.yaml`, offline, with no failed check (a
check that does not fit is skipped in the template, with its reason); ruff's bandit rules
on the domain package and the handlers; and pip-audit on every lock file, reported but
not gating (the CI machines reach only the package registries, so it usually says the
advisory service did not answer).

"""


@dataclass
class Row:
    scenario: str
    cases: int = 0
    lost: int = 0
    duplicated: int = 0
    state_changes: int = 0
    unsafe: int = 0
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tests: set[str] = field(default_factory=set)
    failed: bool = False
    reported: bool = False

    @property
    def harm(self) -> int:
        return self.lost + self.duplicated + self.state_changes + self.unsafe

    @property
    def result(self) -> str:
        if self.failed or not self.reported:
            return "FAIL"
        return "pass" if self.harm == 0 else "FAIL"

    def cells(self) -> list[str]:
        return [
            self.scenario,
            f"{self.cases:,}",
            str(self.lost),
            str(self.duplicated),
            str(self.state_changes),
            str(self.unsafe),
            self.result,
        ]


class Ledger:
    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.started = time.monotonic()

    def row(self, scenario: str) -> Row:
        return self.rows.setdefault(scenario, Row(scenario))

    def record(
        self,
        scenario: str,
        *,
        test: str,
        cases: int,
        lost: int = 0,
        duplicated: int = 0,
        state_changes: int = 0,
        unsafe: int = 0,
        note: str = "",
        seconds: float = 0.0,
    ) -> Row:
        row = self.row(scenario)
        row.cases += cases
        row.lost += lost
        row.duplicated += duplicated
        row.state_changes += state_changes
        row.unsafe += unsafe
        row.seconds += seconds
        row.tests.add(test)
        row.reported = True
        if note:
            row.notes.append(note)
        return row

    def outcome(self, scenario: str, test: str, failed: bool) -> None:
        row = self.row(scenario)
        row.tests.add(test)
        row.failed = row.failed or failed

    # -- the document ----------------------------------------------------------------------

    def write(self, path: Path = DOC) -> Path | None:
        if not self.rows:
            return None
        kept = _read_rows(path)
        for name in self.rows:
            kept.pop(name, None)
        rows = list(self.rows.values())

        def rank(name: str) -> int:
            return ORDER.index(name) if name in ORDER else len(ORDER)

        table = [(row.scenario, [_cell(c) for c in row.cells()]) for row in rows]
        table += list(kept.items())
        table.sort(key=lambda named: rank(named[0]))
        rows.sort(key=lambda row: rank(row.scenario))
        lines = [HEADER.rstrip(), ""]
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS) - 1)) + "|---|")
        for _, cells in table:
            lines.append("| " + " | ".join(cells) + " |")
        total = sum(r.cases for r in rows)
        lines += [
            "",
            f"Cases tried in this run: {total:,}, in {sum(r.seconds for r in rows):.0f} s of scenario time. "
            + (
                "Rows not run this time are kept from the previous run: "
                + ", ".join(f"'{n}'" for n in kept)
                + "."
                if kept
                else "Every scenario ran."
            ),
            "",
            "## What each scenario did",
            "",
        ]
        for row in rows:
            lines.append(f"### {row.scenario}")
            lines.append("")
            for note in row.notes:
                lines.append(f"- {note}")
            if row.failed:
                lines.append("- **the scenario's test failed**: see the test output")
            lines.append(f"- tests: {', '.join(f'`{t}`' for t in sorted(row.tests))}")
            lines.append("")
        kept_notes = _read_notes(path, list(kept))
        lines += kept_notes
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
        return path


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


_ROW = re.compile(r"^\| (.+) \|$")


def _read_rows(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    rows: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", match.group(1))]
        if len(cells) != len(COLUMNS) or cells[0] == COLUMNS[0] or set(cells[0]) <= {"-", ":"}:
            continue
        rows[cells[0].replace("\\|", "|")] = cells
    return rows


def _read_notes(path: Path, names: list[str]) -> list[str]:
    """The '### name' sections of rows kept from the previous run."""
    if not names or not path.exists():
        return []
    out: list[str] = []
    keep = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("### "):
            keep = line[4:] in names
        elif line.startswith("## "):
            keep = False
        if keep:
            out.append(line)
    return out

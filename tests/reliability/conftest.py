"""The reliability suite's fixtures: the ledger every scenario reports into (written to
docs/reliability.md at the end of the session), and hookline wired as deployed on one
DynamoDB Local table."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.ledger import Ledger, Row
from tests.reliability.system import Findings, System

LEDGER = Ledger()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scenario(name): the row of docs/reliability.md this reliability test reports into"
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        LEDGER.outcome(marker.args[0], item.nodeid, failed=report.failed)
        if getattr(report, "wasxfail", None):
            LEDGER.row(marker.args[0]).notes.append(f"**a known failure on this code**: {report.wasxfail}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    written = LEDGER.write()
    if written is not None:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            rows = LEDGER.rows.values()
            reporter.write_line(
                f"reliability: {sum(r.cases for r in rows):,} cases in {len(LEDGER.rows)} scenarios, "
                f"lost {sum(r.lost for r in rows)}, duplicated {sum(r.duplicated for r in rows)}, "
                f"unintended changes {sum(r.state_changes for r in rows)}, unsafe {sum(r.unsafe for r in rows)}"
                f" -> {written.relative_to(Path.cwd()) if written.is_relative_to(Path.cwd()) else written}"
            )


@dataclass
class Recorder:
    """A scenario's handle on its ledger row."""

    scenario: str
    test: str
    started: float

    def record(self, cases: int, findings: Findings, note: str = "") -> Row:
        notes = [note] if note else []
        notes += [f"{what}: {count}" for what, count in sorted(findings.notes.items())]
        row = LEDGER.record(
            self.scenario,
            test=self.test,
            cases=cases,
            lost=len(findings.lost),
            duplicated=len(findings.duplicated),
            state_changes=len(findings.state_changes),
            unsafe=len(findings.unsafe),
            note="; ".join(notes),
            seconds=time.monotonic() - self.started,
        )
        return row


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Recorder:
    marker = request.node.get_closest_marker("scenario")
    assert marker is not None, "mark a reliability test with @pytest.mark.scenario(name)"
    return Recorder(marker.args[0], request.node.nodeid, time.monotonic())


@pytest.fixture
def system(dynamodb_local: Any, table: str, clock: Any, tmp_path: Path, aws: Any) -> System:
    """hookline on a fresh table, X credentials in (fake) Secrets Manager, SES and SNS faked."""
    return System(dynamodb_local, table, clock, tmp_path)

"""`make bench`: figures measured on this machine, printed as `bench: NAME VALUE UNIT` and
written, with how each was measured, to docs/benchmarks.md. Never run as tests: speed is
measured here, not asserted in the test suite.

Each benchmark module defines `run(report: Report) -> None` and is listed in MODULES. A module
may also state a target (`report.target(...)`): the targets open docs/benchmarks.md as one table,
each figure beside its baseline.
"""

from __future__ import annotations

import platform
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "benchmarks.md"

# Benchmark modules, in the order they run and appear in docs/benchmarks.md. A listed module that
# is not there (yet) is skipped with a note. `costs` comes last: it prices what the others measured.
MODULES: list[str] = ["coldstart", "approvals", "poll", "publish", "compose", "latency", "costs"]


@dataclass
class Figure:
    name: str
    value: float
    unit: str


@dataclass
class Section:
    title: str
    method: str
    figures: list[Figure] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)  # first row is the header
    extra_tables: list[list[list[str]]] = field(default_factory=list)  # more tables, after the first
    verdict: list[str] = field(default_factory=list)


@dataclass
class Target:
    what: str
    measured: str
    baseline: str
    ratio: str
    limit: str
    met: bool


@dataclass
class Report:
    sections: list[Section] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)

    def section(self, title: str, method: str) -> Section:
        section = Section(title, method)
        self.sections.append(section)
        return section

    def figure(self, section: Section, name: str, value: float, unit: str) -> float:
        section.figures.append(Figure(name, value, unit))
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"bench: {name} {shown} {unit}", flush=True)
        return value

    def value(self, name: str) -> float | None:
        """A figure an earlier module measured (None when that module did not run)."""
        for section in self.sections:
            for figure in section.figures:
                if figure.name == name:
                    return figure.value
        return None

    def target(self, what: str, measured: str, baseline: str, ratio: str, limit: str, met: bool) -> None:
        self.targets.append(Target(what, measured, baseline, ratio, limit, met))


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return (
        f"{cpu}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write(report: Report, doc: Path = DOC) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {machine()}.",
        "Every figure below was measured in that run; nothing is copied from elsewhere.",
        "",
    ]
    if report.targets:
        lines += [
            "## Targets, side by side",
            "",
            "| what | hookline | baseline | ratio | target | met |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t.what} | {t.measured} | {t.baseline} | {t.ratio} | {t.limit} | {'yes' if t.met else '**no**'} |"
            for t in report.targets
        ]
        lines.append("")
    for section in report.sections:
        lines += [f"## {section.title}", "", section.method, ""]
        for table in [section.table, *section.extra_tables]:
            if not table:
                continue
            header, *rows = table
            lines.append("| " + " | ".join(header) + " |")
            lines.append("|" + "---|" * len(header))
            lines += ["| " + " | ".join(row) + " |" for row in rows]
            lines.append("")
        if section.figures:
            lines += ["| figure | value | unit |", "|---|---|---|"]
            lines += [f"| `{f.name}` | {f.value:.4g} | {f.unit} |" for f in section.figures]
            lines.append("")
        lines += [f"- {v}" for v in section.verdict]
        lines.append("")
    doc.parent.mkdir(exist_ok=True)
    doc.write_text("\n".join(lines), encoding="utf-8")

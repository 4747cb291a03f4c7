import importlib
import importlib.util
import sys

from tests.bench import DOC, MODULES, ROOT, Report, write


def main() -> int:
    report = Report()
    wanted = sys.argv[1:]
    for name in MODULES:
        if wanted and name not in wanted:
            continue
        if importlib.util.find_spec(f"tests.bench.{name}") is None:
            print(f"make bench: tests/bench/{name}.py is not here; its section is left out", file=sys.stderr)
            continue
        importlib.import_module(f"tests.bench.{name}").run(report)
    # A run of some modules (`python -m tests.bench poll`) leaves docs/benchmarks.md, the full
    # run's record, as it is and writes its sections beside the test artefacts.
    doc = ROOT / "test-artifacts" / f"benchmarks-{'-'.join(wanted)}.md" if wanted else DOC
    write(report, doc)
    print(f"bench: wrote {doc.relative_to(ROOT)} ({len(report.sections)} sections)")
    return 0


raise SystemExit(main())

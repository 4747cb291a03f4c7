import importlib
import sys

from tests.bench import MODULES, Report, write


def main() -> int:
    report = Report()
    wanted = sys.argv[1:]
    for name in MODULES:
        if wanted and name not in wanted:
            continue
        importlib.import_module(f"tests.bench.{name}").run(report)
    write(report)
    print(f"bench: wrote docs/benchmarks.md ({len(report.sections)} sections)")
    return 0


raise SystemExit(main())

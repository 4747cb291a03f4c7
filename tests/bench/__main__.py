import importlib
import importlib.util
import sys

from tests.bench import MODULES, Report, write


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
    write(report)
    print(f"bench: wrote docs/benchmarks.md ({len(report.sections)} sections)")
    return 0


raise SystemExit(main())

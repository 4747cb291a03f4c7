"""Make `sam build`'s artefacts start fast in Lambda: precompiled bytecode, no debug sections.

Run by `make build` after `sam build`, with the Python of the functions' runtime:

    python3.13 tools/optimise_build.py .aws-sam/build

Why (measured in `make bench`, docs/benchmarks.md):

- Lambda unpacks the code into read-only /var/task and /opt, so Python cannot cache bytecode
  there, and `sam build` ships none: every cold start compiles every module it imports from
  source, which more than doubles the handlers' cold initialisation.
- `sam deploy` zips every file with the timestamp 1980-01-01, so ordinary (timestamp-checked)
  .pyc files would not match their sources in Lambda and would be ignored. The bytecode here is
  compiled with unchecked hashes: used as it is, which is right for artefacts nobody edits.
- Installed packages (every file listed in a *.dist-info/RECORD) ship as bytecode only, in
  place of their sources, so the artefacts stay about the size they were (each function with its
  layers must stay under 20 MB unzipped). hookline's own modules and the handlers keep their
  sources beside the bytecode, so their tracebacks still show the lines.
- Native libraries lose their debug sections (`strip --strip-debug`, when strip is installed);
  the regex wheel ships 1.7 MB of them.

Code objects name the path the file has in Lambda (/opt/python/..., /var/task/...), not the
build machine's.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import py_compile
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Where Lambda puts each kind of artefact: a layer's python/ folder is on sys.path as /opt/python.
LAMBDA_ROOTS = {"layer": "/opt/python", "function": "/var/task"}


@dataclass
class Result:
    compiled: int = 0  # own modules: bytecode beside the source
    sourceless: int = 0  # installed packages: bytecode in place of the source
    stripped: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # sources that do not compile (kept as they are)


def runtime_version(build_dir: Path) -> tuple[int, int]:
    """The functions' Python version, from the built template (Runtime: python3.13)."""
    template = (build_dir / "template.yaml").read_text(encoding="utf-8")
    found = set(re.findall(r"Runtime:\s*python(\d+)\.(\d+)", template))
    if len(found) != 1:
        raise SystemExit(
            f"expected one python runtime in {build_dir / 'template.yaml'}, found {sorted(found)}"
        )
    major, minor = next(iter(found))
    return int(major), int(minor)


def installed_files(root: Path) -> set[Path]:
    """Every file pip installed under `root`, from the packages' RECORD files."""
    files: set[Path] = set()
    for record in root.glob("*.dist-info/RECORD"):
        with record.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                if row and row[0]:
                    files.add((root / row[0]).resolve())
    return files


def code_roots(build_dir: Path) -> list[tuple[Path, str]]:
    """(folder on sys.path, its path in Lambda) for every built function and layer."""
    roots = []
    for artefact in sorted(p for p in build_dir.iterdir() if p.is_dir()):
        if (artefact / "python").is_dir():
            roots.append((artefact / "python", LAMBDA_ROOTS["layer"]))
        elif any(artefact.glob("*.py")):
            roots.append((artefact, LAMBDA_ROOTS["function"]))
    return roots


def compile_root(root: Path, lambda_root: str, result: Result) -> None:
    installed = installed_files(root)
    for source in sorted(root.rglob("*.py")):
        if "__pycache__" in source.parts:
            continue
        shown = f"{lambda_root}/{source.relative_to(root).as_posix()}"
        third_party = source.resolve() in installed
        target = str(source) + "c" if third_party else importlib.util.cache_from_source(str(source))
        try:
            py_compile.compile(
                str(source),
                cfile=target,
                dfile=shown,
                doraise=True,
                invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
            )
        except py_compile.PyCompileError:
            # A file that is not valid Python for this runtime (a template, a test fixture):
            # left exactly as it was, and never imported.
            result.skipped.append(shown)
            continue
        if third_party:
            source.unlink()
            result.sourceless += 1
        else:
            result.compiled += 1


def strip_native(build_dir: Path, result: Result) -> None:
    strip = shutil.which("strip")
    if strip is None:
        print("optimise_build: strip is not installed; native libraries keep their debug sections")
        return
    for library in sorted(build_dir.rglob("*.so")):
        before = library.stat().st_size
        subprocess.run([strip, "--strip-debug", str(library)], check=True)  # noqa: S603
        if library.stat().st_size < before:
            result.stripped.append(library.name)


def own_copies(build_dir: Path) -> None:
    """sam build's experimental build-performance mode links artefacts to its cache: copy them
    in first, so that compiling here never changes (or deletes sources from) the cache."""
    for artefact in sorted(build_dir.iterdir()):
        if artefact.is_symlink() and artefact.is_dir():
            target = artefact.resolve()
            artefact.unlink()
            shutil.copytree(target, artefact, symlinks=True)


def optimise(build_dir: Path) -> Result:
    result = Result()
    own_copies(build_dir)
    for root, lambda_root in code_roots(build_dir):
        compile_root(root, lambda_root, result)
    strip_native(build_dir, result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("build_dir", type=Path, help="sam build's output folder (.aws-sam/build)")
    args = parser.parse_args(argv)
    wanted = runtime_version(args.build_dir)
    if sys.version_info[:2] != wanted:
        # Bytecode is specific to a Python version: the wrong one would not load in Lambda.
        print(
            f"optimise_build: needs Python {wanted[0]}.{wanted[1]} (the functions' runtime), "
            f"this is {sys.version_info[0]}.{sys.version_info[1]}",
            file=sys.stderr,
        )
        return 2
    result = optimise(args.build_dir)
    print(
        f"optimise_build: {result.compiled} own modules compiled beside their sources, "
        f"{result.sourceless} installed modules shipped as bytecode, "
        f"debug sections stripped from {len(result.stripped)} native libraries"
        + (
            f"; {len(result.skipped)} files are not Python {wanted[0]}.{wanted[1]} and were left"
            if result.skipped
            else ""
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

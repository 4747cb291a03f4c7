"""tools/optimise_build.py, which `make build` runs on sam build's artefacts: the functions must
load precompiled bytecode in Lambda (read-only code, files stamped 1980 by sam's zip), keep
working, and keep readable tracebacks for hookline's own code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.optimise_build import main, optimise

SAM_ZIP_TIME = 315532800  # 1980-01-01 00:00 UTC: the timestamp sam's zip gives every file
RUNTIME = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A miniature `sam build` output: a layer with an installed package and our own package,
    and a function whose handler imports both."""
    out = tmp_path / "build"
    write(out / "template.yaml", f"Globals:\n  Function:\n    Runtime: {RUNTIME}\n")
    site = out / "DomainLayer" / "python"
    write(site / "vendored" / "__init__.py", "from vendored.tools import shout\n")
    write(site / "vendored" / "tools.py", "def shout(text):\n    return text.upper() + '!'\n")
    write(site / "vendored" / "broken.py", "print 'python 2 only'\n")  # shipped, never imported
    write(
        site / "vendored-1.0.dist-info" / "RECORD",
        "vendored/__init__.py,sha256=x,40\nvendored/tools.py,sha256=x,50\nvendored/broken.py,sha256=x,20\n"
        "vendored-1.0.dist-info/RECORD,,\n",
    )
    write(site / "mine" / "__init__.py", "")
    write(
        site / "mine" / "greet.py",
        "from vendored import shout\n\nVERSION = 'compiled'\n\n\ndef greet(name):\n"
        "    if not name:\n        raise ValueError('nobody to greet')\n    return shout('hello ' + name)\n",
    )
    write(out / "HelloFunction" / "app.py", "from mine.greet import VERSION, greet\n")
    write(out / "ConfigLayer" / "settings.json", "{}")
    return out


def as_lambda_unzips_it(build: Path) -> None:
    """Every file stamped 1980-01-01, as `sam deploy`'s zip leaves them in /opt and /var/task."""
    for path in build.rglob("*"):
        os.utime(path, (SAM_ZIP_TIME, SAM_ZIP_TIME))


def run_handler(build: Path, code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with the function and layer on sys.path and nothing writable for bytecode."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{build / 'HelloFunction'}:{build / 'DomainLayer' / 'python'}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=build, check=False
    )


def test_installed_packages_ship_as_bytecode_and_our_code_keeps_its_source(build: Path) -> None:
    # Given a built layer and function
    # When make build optimises them
    result = optimise(build)

    # Then the installed package is bytecode only, except the file that is not valid Python,
    # which stays exactly as it was
    vendored = build / "DomainLayer" / "python" / "vendored"
    assert sorted(p.name for p in vendored.iterdir()) == ["__init__.pyc", "broken.py", "tools.pyc"]
    assert result.sourceless == 2
    assert result.skipped == ["/opt/python/vendored/broken.py"]
    # And hookline's own modules and the handler keep their sources, with bytecode beside them
    mine = build / "DomainLayer" / "python" / "mine"
    assert (mine / "greet.py").exists()
    assert (mine / "__pycache__").is_dir()
    assert (build / "HelloFunction" / "app.py").exists()
    assert result.compiled == 3  # mine/__init__, mine/greet, app
    # And the config layer, which has no Python, is untouched
    assert sorted(p.name for p in (build / "ConfigLayer").iterdir()) == ["settings.json"]


def test_the_handler_runs_from_the_optimised_artefacts_as_lambda_unpacks_them(build: Path) -> None:
    optimise(build)
    as_lambda_unzips_it(build)

    # When the handler module is imported in a fresh interpreter that cannot write bytecode
    done = run_handler(build, "import app; print(app.greet('world'))")

    # Then it works from the bytecode alone
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "HELLO WORLD!"


def test_our_precompiled_bytecode_is_used_although_sams_zip_reset_the_timestamps(build: Path) -> None:
    optimise(build)
    # Given the source of our module differs from what was compiled (only the bytecode can say 'compiled')
    greet = build / "DomainLayer" / "python" / "mine" / "greet.py"
    greet.write_text(
        greet.read_text(encoding="utf-8").replace("'compiled'", "'from source'"), encoding="utf-8"
    )
    as_lambda_unzips_it(build)

    # When Lambda imports it (timestamps of 1980, which a timestamp-checked .pyc would reject)
    done = run_handler(build, "import app; print(app.VERSION)")

    # Then Python ran the precompiled bytecode instead of compiling the source again
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "compiled"


def test_tracebacks_show_our_lines_and_name_lambda_paths_for_packages(build: Path) -> None:
    optimise(build)
    as_lambda_unzips_it(build)

    # When our code fails in Lambda
    ours = run_handler(build, "import app; app.greet('')")
    # Then the traceback shows the line from our source
    assert ours.returncode == 1
    assert "raise ValueError('nobody to greet')" in ours.stderr

    # When an installed package fails
    theirs = run_handler(build, "from vendored import shout; shout(None)")
    # Then the traceback names the file where it lives in Lambda, not on the build machine
    assert theirs.returncode == 1
    assert 'File "/opt/python/vendored/tools.py", line 2, in shout' in theirs.stderr
    assert str(build) not in theirs.stderr


def test_artefacts_linked_to_sams_cache_are_copied_before_they_change(build: Path, tmp_path: Path) -> None:
    # Given a layer that sam linked from its build cache (its experimental build-performance mode)
    cache = tmp_path / "cache" / "layer-1"
    cache.parent.mkdir(parents=True)
    (build / "DomainLayer").rename(cache)
    (build / "DomainLayer").symlink_to(cache, target_is_directory=True)

    # When the build is optimised
    optimise(build)

    # Then the cache still holds the package's sources and no bytecode
    assert (cache / "python" / "vendored" / "tools.py").exists()
    assert not list(cache.rglob("*.pyc"))
    # and the build holds its own optimised copy
    assert not (build / "DomainLayer").is_symlink()
    assert (build / "DomainLayer" / "python" / "vendored" / "tools.pyc").exists()


def test_it_refuses_to_compile_for_another_python_than_the_runtime(
    build: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a template for a runtime this interpreter is not
    (build / "template.yaml").write_text("Globals:\n  Function:\n    Runtime: python2.7\n", encoding="utf-8")

    # When the optimiser runs
    status = main([str(build)])

    # Then it stops with a clear message and leaves every source in place
    assert status == 2
    assert "needs Python 2.7 (the functions' runtime)" in capsys.readouterr().err
    assert (build / "DomainLayer" / "python" / "vendored" / "tools.py").exists()
    assert not list(build.rglob("*.pyc"))

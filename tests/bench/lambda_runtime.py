"""Lambda, as far as this machine can be it, for the cold-start and latency benchmarks.

- The code is what `make build` deploys: `sam build` (python3.13 wheels, boto3 not bundled),
  then tools/optimise_build.py. The raw `sam build` output is kept beside it for comparison.
- Every file is stamped 1980-01-01, as `sam deploy`'s zip leaves them, and nothing can write
  bytecode (PYTHONDONTWRITEBYTECODE), as in Lambda's read-only /var/task and /opt.
- The interpreter is Python 3.13 with boto3 (.venv-lambda), as Lambda's python3.13 runtime.
- Each function gets its production environment, evaluated from template.yaml (the config it
  ships, the table, the secret names, POWERTOOLS_*), plus what Lambda itself sets.
- AWS answers locally: DynamoDB Local for the table, a small Secrets Manager stand-in (found by
  botocore through AWS_ENDPOINT_URL_SECRETS_MANAGER) for the link-signing key.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.bench import ROOT

LAMBDA_PYTHON = ROOT / ".venv-lambda" / "bin" / "python"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
DRIVER = Path(__file__).with_name("lambda_driver.py")
SAM_ZIP_TIME = 315532800  # 1980-01-01: the timestamp sam's zip gives every file
FUNCTIONS = {
    "approvals": "ApprovalsFunction",
    "poll_feeds": "PollFeedsFunction",
    "publish": "PublishFunction",
}
LAYERS = ("HooklineLayer", "ConfigLayer")
SIGNING_KEY = "bench-signing-key-" + "k" * 40
REGION = "eu-west-2"


# -- the artefacts ---------------------------------------------------------------------------------


@dataclass
class Build:
    raw: Path  # as `sam build` leaves it
    deployed: Path  # after tools/optimise_build.py: what `make build` deploys
    seconds: float


_BUILD: Build | None = None


def _tool_env() -> dict[str, str]:
    env = dict(os.environ)
    # The config layer's Makefile runs `python3 -m hookline export-config`: this checkout's hookline.
    env["PYTHONPATH"] = f"{ROOT / 'layers' / 'hookline'}:{ROOT}"
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    env["SAM_CLI_TELEMETRY"] = "0"
    return env


def build() -> Build:
    """sam build into a scratch folder (once per `make bench`), and the optimised copy beside it."""
    global _BUILD
    if _BUILD is not None:
        return _BUILD
    if not LAMBDA_PYTHON.exists():
        raise RuntimeError("Lambda's python3.13 is missing: run `make bench` (it creates .venv-lambda)")
    work = Path(tempfile.mkdtemp(prefix="hookline-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # two builds, ~40 MB: gone when make bench ends
    raw, deployed = work / "sam", work / "deployed"
    started = time.perf_counter()
    done = subprocess.run(
        [str(SAM), "build", "--region", REGION, "--build-dir", str(raw), "--cache-dir", str(work / "cache")],
        cwd=ROOT,
        env=_tool_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    shutil.copytree(raw, deployed, symlinks=True)
    subprocess.run(
        [str(LAMBDA_PYTHON), str(ROOT / "tools" / "optimise_build.py"), str(deployed)],
        cwd=ROOT,
        env=_tool_env(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    for tree in (raw, deployed):
        for path in tree.rglob("*"):
            os.utime(path, (SAM_ZIP_TIME, SAM_ZIP_TIME), follow_symlinks=False)
    _BUILD = Build(raw, deployed, time.perf_counter() - started)
    return _BUILD


def folders(build_dir: Path, function: str) -> list[Path]:
    """A function's code and its layers, as Lambda unpacks them (/var/task, /opt)."""
    return [build_dir / FUNCTIONS[function], *(build_dir / layer for layer in LAYERS)]


def unzipped_bytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for folder in paths for p in folder.rglob("*") if p.is_file())


def zipped_bytes(folder: Path) -> int:
    """The size of the deployment zip, deflated as sam packages it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.tell()


# -- the environment -------------------------------------------------------------------------------


def production_env(function: str, build_dir: Path, table: str) -> dict[str, str]:
    """The function's environment as deployed (template.yaml evaluated), plus what Lambda sets."""
    from tests.support.aws import Template, load_template

    template = Template(load_template(), "hookline", physical={"Table": table})
    logical = FUNCTIONS[function]
    env = dict(template.functions()[logical])
    resource = template.resources[logical]["Properties"]
    globals_ = template.doc["Globals"]["Function"]
    memory = resource.get("MemorySize", globals_.get("MemorySize", 128))
    # /opt/hookline.json is the config layer's file: here, the one this build made.
    env["HOOKLINE_CONFIG"] = str(build_dir / "ConfigLayer" / "hookline.json")
    task, *layers = folders(build_dir, function)
    env.update(
        {
            "PATH": "/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": f"{task}:{layers[0] / 'python'}",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only
            "LAMBDA_TASK_ROOT": str(task),
            "_HANDLER": "app.lambda_handler",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
            "AWS_LAMBDA_FUNCTION_NAME": f"hookline-{logical}",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
        }
    )
    return env


def memory_mb(function: str) -> int:
    from tests.support.aws import load_template

    doc = load_template()
    own = doc["Resources"][FUNCTIONS[function]]["Properties"].get("MemorySize")
    return int(own or doc["Globals"]["Function"].get("MemorySize", 128))


class _SecretsHandler(BaseHTTPRequestHandler):
    """Secrets Manager's GetSecretValue, for the link-signing secret: the current key, and no
    AWSPREVIOUS (the key was never rotated), as a new stack has it."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        target = self.headers.get("X-Amz-Target", "")
        self.server.calls.append(target)  # type: ignore[attr-defined]
        if target.endswith("GetSecretValue") and body.get("VersionStage") in (None, "AWSCURRENT"):
            status, answer = (
                200,
                {
                    "ARN": f"arn:aws:secretsmanager:{REGION}:000000000000:secret:{body['SecretId']}",
                    "Name": body["SecretId"],
                    "VersionId": "v1",
                    "SecretString": json.dumps({"key": SIGNING_KEY}),
                    "VersionStages": ["AWSCURRENT"],
                    "CreatedDate": 1795600800,
                },
            )
        else:
            status, answer = (
                400,
                {
                    "__type": "ResourceNotFoundException",
                    "message": "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
                },
            )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SecretsManager:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _SecretsHandler)
        self.server.calls = []  # type: ignore[attr-defined]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> SecretsManager:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- running a function ------------------------------------------------------------------------------


@dataclass
class Run:
    wall: float  # the whole process, spawn to exit, seconds
    cpu: float  # its user + system CPU time
    init_wall: float  # the import (INIT) inside the process
    init_cpu: float
    calls: list[dict[str, Any]] = field(default_factory=list)  # each handler call: wall, cpu, status
    maxrss_mb: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # anything else the driver measured

    @property
    def first_wall(self) -> float:
        """INIT plus the first request, inside the process: what the first user waits for (less the runtime's own start)."""
        return self.init_wall + (self.calls[0]["wall"] if self.calls else 0.0)

    @property
    def first_cpu(self) -> float:
        return self.init_cpu + (self.calls[0]["cpu"] if self.calls else 0.0)


def run(mode: str, args: list[str], env: dict[str, str], stdout: Path | None = None) -> Run:
    """One fresh interpreter running lambda_driver.py: CPU time from wait4, peak memory as the
    process itself saw it after exec.
    The handler's own output (its logs and metrics) goes to `stdout`, if given."""
    with tempfile.TemporaryDirectory(prefix="hookline-run-") as scratch:
        out, err = Path(scratch) / "result.json", Path(scratch) / "stderr"
        with err.open("wb") as errors, (stdout or Path(os.devnull)).open("wb") as output:
            started = time.perf_counter()
            process = subprocess.Popen(
                [str(LAMBDA_PYTHON), str(DRIVER), str(out), mode, *args],
                env=env,
                cwd=scratch,
                stdout=output,
                stderr=errors,
            )
            _, status, usage = os.wait4(process.pid, 0)
            wall = time.perf_counter() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0 or not out.exists():
            raise RuntimeError(f"{mode} {args} failed ({process.returncode}):\n{err.read_text()[-4000:]}")
        data = json.loads(out.read_text())
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        init_wall=data["init_wall"],
        init_cpu=data["init_cpu"],
        calls=data["calls"],
        maxrss_mb=data["peak_rss_kb"] / 1024,
        extra={k: v for k, v in data.items() if k.startswith("gc_")},
    )


def baseline_env() -> dict[str, str]:
    """A fresh Lambda-like process with nothing of hookline: only the runtime's boto3."""
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
    }


# -- statistics ------------------------------------------------------------------------------------


@dataclass
class Spread:
    median: float
    low: float  # 10th percentile
    high: float  # 90th percentile
    n: int

    def ms(self) -> str:
        return f"{self.median * 1000:.0f} ms ({self.low * 1000:.0f}–{self.high * 1000:.0f})"


def spread(values: list[float]) -> Spread:
    ordered = sorted(values)
    n = len(ordered)
    return Spread(statistics.median(ordered), ordered[n // 10], ordered[min(n - 1, n - 1 - n // 10)], n)


def dynamodb_items(call: dict[str, Any], kind: str) -> float:
    """DynamoDB items a call read or wrote ("read", "write"), counted by lambda_driver.py in
    request units (an eventually consistent read of an item is half a unit)."""
    return float(call.get("requests", {}).get(f"items.{kind}", 0))


def dynamodb_requests(call: dict[str, Any]) -> int:
    return sum(n for op, n in call.get("requests", {}).items() if op.startswith("dynamodb."))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]

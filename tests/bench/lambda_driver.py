"""Run inside a fresh Lambda-like interpreter (python3.13 with boto3, the built artefacts on
sys.path): what Lambda's runtime does on a cold start, timed. Standard library only.

    python lambda_driver.py RESULT.json import-boto3
    python lambda_driver.py RESULT.json import-app [EVENTS.json]
    python lambda_driver.py RESULT.json boto3-getitem TABLE [CALLS]

`import-app` imports the handler module (Lambda's INIT: import plus module-level set-up), then
calls `lambda_handler` with each event in EVENTS.json in turn (the first is the cold request,
later ones are warm; with BENCH_PROFILE=FILE set, the warm calls are profiled with cProfile into
FILE, to see where they spend). `boto3-getitem` is the least a DynamoDB-backed handler does: boto3 and a
client at INIT, one GetItem on the first request. Results go to RESULT.json, because the
handlers log to stdout.
"""

import json
import os
import sys
import time


class Context:
    """The Lambda context attributes powertools reads."""

    def __init__(self, timeout: float) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function")
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-2:000000000000:function:{name}"
        self.aws_request_id = os.urandom(8).hex()
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "bench"
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def count_requests():
    """AWS requests per service and operation ("dynamodb.Query"), and the DynamoDB items they
    read and wrote ("items.read", "items.write"; an item in a transaction counts twice and an
    eventually consistent read half, as DynamoDB bills them), counted on boto3's default session, which hookline's clients use. Only
    for counted runs: it imports boto3 before the handler does, so they are not timed."""
    import boto3

    counts = {}

    def add(key, n=1):
        counts[key] = counts.get(key, 0) + n

    def count(model, params, **_):
        add(f"{model.service_model.service_name}.{model.name}")
        if model.service_model.service_name != "dynamodb":
            return
        name = model.name
        if name in ("GetItem",):
            add("items.read")
        elif name == "BatchGetItem":
            # read units: an eventually consistent read of a small item is half a unit
            for table in params["RequestItems"].values():
                add("items.read", len(table["Keys"]) * (1 if table.get("ConsistentRead") else 0.5))
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            add("items.write")
        elif name == "BatchWriteItem":
            add("items.write", sum(len(t) for t in params["RequestItems"].values()))
        elif name == "TransactWriteItems":
            add("items.write", 2 * len(params["TransactItems"]))

    def returned(model, parsed, **_):
        if model.name in ("Query", "Scan"):
            add("items.read", max(1, parsed.get("Count", 0)))

    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register("before-parameter-build.*.*", count)
    boto3.DEFAULT_SESSION.events.register("after-call.dynamodb.*", returned)
    return counts


def peak_rss_kb():
    """This process's peak resident memory since exec (VmHWM). Not ru_maxrss: that also keeps
    the high-water mark of the parent it was forked from, before exec."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def watch_collections():
    """Each garbage collection's pause (generation, seconds), for the latency runs."""
    import gc

    pauses, started = [], [0.0]

    def watch(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(watch)
    return pauses


def main() -> None:
    out, mode, *rest = sys.argv[1:]
    result = {"mode": mode, "calls": []}
    counts = count_requests() if os.environ.get("BENCH_COUNT_REQUESTS") else None
    pauses = watch_collections() if counts is not None else []
    if mode == "import-boto3":
        _, result["init_wall"], result["init_cpu"] = timed(lambda: __import__("boto3"))
    elif mode == "boto3-getitem":

        def init():
            import boto3

            return boto3.client("dynamodb")  # AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local

        client, result["init_wall"], result["init_cpu"] = timed(init)
        key = {"pk": {"S": "CONTROL"}, "sk": {"S": "PAUSE"}}
        for _ in range(int(rest[1]) if len(rest) > 1 else 1):
            _, wall, cpu = timed(lambda: client.get_item(TableName=rest[0], Key=key, ConsistentRead=True))
            result["calls"].append({"wall": wall, "cpu": cpu, "status": 200})
    elif mode == "import-app":
        app, result["init_wall"], result["init_cpu"] = timed(lambda: __import__("app"))
        timeout = float(os.environ.get("BENCH_TIMEOUT", "30"))
        events = []
        if rest:
            with open(rest[0], encoding="utf-8") as handle:
                events = json.load(handle)
        # BENCH_PROFILE=FILE: cProfile over the warm calls (not the first), to see where they spend.
        profile_to = os.environ.get("BENCH_PROFILE")
        profiler = None
        for n, event in enumerate(events):
            if profile_to and n == 1:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            before, seen = dict(counts or {}), len(pauses)
            answer, wall, cpu = timed(lambda: app.lambda_handler(event, Context(timeout)))  # noqa: B023
            status = answer.get("statusCode", 200) if isinstance(answer, dict) else 200
            call = {"wall": wall, "cpu": cpu, "status": status}
            if counts is not None:
                call["requests"] = {
                    k: v - before.get(k, 0) for k, v in counts.items() if v - before.get(k, 0)
                }
                call["gc"] = pauses[seen:]
            result["calls"].append(call)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_to)
        if counts is not None:
            # What a full collection costs now, and what it would cost had nothing been frozen.
            import gc

            _, result["gc_full_now"], _ = timed(gc.collect)
            gc.unfreeze()
            _, result["gc_full_unfrozen"], _ = timed(gc.collect)
    else:
        raise SystemExit(f"unknown mode {mode}")
    result["peak_rss_kb"] = peak_rss_kb()
    result["modules"] = len(sys.modules)
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(result, handle)


main()

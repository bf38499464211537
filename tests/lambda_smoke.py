#!/usr/bin/env python3
"""Smoke test of the real function binaries under the Lambda runtime emulator.

`cargo lambda watch` runs trailwatch-ingest and trailwatch-logs as Lambda would (runtime
API, environment); `cargo lambda invoke` sends them events. AWS is moto server on
127.0.0.1, started and stopped here. Checks that an SQS batch and a CloudWatch Logs
subscription event both end as alerts in an SQS queue subscribed to the SNS topic.

Run from the repository root with the venv's Python: `.venv/bin/python tests/lambda_smoke.py`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SAMPLES = ROOT / "samples"
CONFIG_KEY = "config/trailwatch.toml"
OBJECT_KEY = "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30/smoke.json.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float) -> None:
    """Polls until something accepts connections on the port (or the process died)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(delay)  # polling interval, not synchronisation: the loop checks the port
        delay = min(delay * 2, 1.0)
    raise SystemExit(f"{what} did not listen on {port} within {timeout}s")


def start(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> int:
    logs = Path(tempfile.mkdtemp(prefix="trailwatch-smoke-"))
    moto_port = free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    moto = start([str(VENV_BIN / "python"), str(ROOT / "functions/aws-test-support/moto_serialized.py"),
                  "-H", "127.0.0.1", "-p", str(moto_port)], logs / "moto.log")
    watch = None
    try:
        wait_for_port(moto_port, moto, "moto server", 60)
        aws = dict(endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
        s3, sns, sqs, ddb = (boto3.client(n, **aws) for n in ("s3", "sns", "sqs", "dynamodb"))
        s3.create_bucket(Bucket="smoke")
        s3.put_object(Bucket="smoke", Key=CONFIG_KEY, Body=(SAMPLES / "trailwatch.toml").read_bytes())
        irsa = next((SAMPLES / "AWSLogs/111122223333/CloudTrail/ap-southeast-1/2026/11/30").glob("*T0905Z_*.json.gz"))
        s3.put_object(Bucket="smoke", Key=OBJECT_KEY, Body=irsa.read_bytes())
        ddb.create_table(TableName="smoke-state", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        topic = sns.create_topic(Name="smoke-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="smoke-alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        function_env = {
            "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "TRAILWATCH_CONFIG": f"s3://smoke/{CONFIG_KEY}", "TRAILWATCH_ALERT_TOPIC_ARN": topic,
            "TRAILWATCH_STATE_TABLE": "smoke-state",
        }
        env = {**os.environ, **function_env}
        env_args = [arg for k, v in function_env.items() for arg in ("--env-var", f"{k}={v}")]
        def invoke(function: str, event: dict) -> str:
            """Runs the function under `cargo lambda watch` and sends it one event."""
            nonlocal watch
            invoke_port = free_port()
            watch = start([str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--package", function,
                           "--ignore-changes", "--invoke-address", "127.0.0.1", "--invoke-port", str(invoke_port),
                           *env_args], logs / f"watch-{function}.log", env)
            wait_for_port(invoke_port, watch, "cargo lambda watch", 120)
            data = logs / f"{function}-event.json"
            data.write_text(json.dumps(event))
            # The first invoke compiles the function: allow for it.
            out = subprocess.run([str(VENV_BIN / "cargo-lambda"), "lambda", "invoke", function,
                                  "--invoke-address", "127.0.0.1", "--invoke-port", str(invoke_port),
                                  "--data-file", str(data)], cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=900)
            stop(watch)
            watch = None
            if out.returncode != 0:
                raise SystemExit(f"invoke {function} failed:\n{out.stdout}\n{out.stderr}")
            return out.stdout

        s3_event = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "smoke"},
                                                                 "object": {"key": OBJECT_KEY}}}]}
        sqs_event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(s3_event),
                                  "attributes": {}, "messageAttributes": {}}]}
        response = json.loads(invoke("trailwatch-ingest", sqs_event))
        assert response.get("batchItemFailures") == [], response
        logs_event = json.loads((SAMPLES / "cloudwatch-logs/subscription-awslogs.json").read_text())
        invoke("trailwatch-logs", logs_event)

        got = set()
        while True:
            messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for m in messages:
                alert = json.loads(json.loads(m["Body"])["Message"])
                got.update(f"{alert['detection']} {i}" for i in alert["event_ids"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        want = set()
        for path in (irsa, SAMPLES / "cloudwatch-logs/subscription-awslogs.json"):
            want.update(Path(f"{path}.expected").read_text().split("\n"))
        want.discard("")
        if got != want:
            print(f"expected {sorted(want)}\nactual   {sorted(got)}", file=sys.stderr)
            return 1
        print(f"lambda smoke: 2 invocations, {len(got)} alerts delivered: 2 passed, 0 failed")
        return 0
    except BaseException:
        for log in sorted(logs.glob("*.log")):
            print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]),
                  file=sys.stderr)
        raise
    finally:
        if watch is not None:
            stop(watch)
        stop(moto)


if __name__ == "__main__":
    sys.exit(main())

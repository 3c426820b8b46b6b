"""Invoke rapid's front door with boto3's Lambda client, as a user's code would.

Prints one JSON object per invoke on stdout: StatusCode, FunctionError,
ExecutedVersion, LogResult (decoded text), Payload (decoded text) and
RequestId (from ResponseMetadata). With --concurrency N, N invokes run at once
in threads and N lines are printed (in completion order); with --distinct,
invoke i sends the payload object with "n": i added. With --report-errors an
invoke the service refuses (botocore's ClientError, e.g. a 429
TooManyRequestsException) is a line too: {"Error": code, "HTTPStatusCode":
status, "Reason": ..., "Message": ...}, printed as it comes; any other
failure still fails the run.
"""

import argparse
import base64
import json
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--payload", default="{}", help="the event, JSON text")
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--log-type", choices=["None", "Tail"])
    parser.add_argument("--invocation-type", choices=["RequestResponse", "Event", "DryRun"])
    parser.add_argument("--client-context", help="base64 of the client context JSON")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--distinct", action="store_true")
    parser.add_argument("--report-errors", action="store_true")
    return parser.parse_args()


def make_client(endpoint):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(
            retries={"total_max_attempts": 1},
            connect_timeout=10,
            read_timeout=15,  # a hang fails the test well before its deadline
            max_pool_connections=64,
        ),
    )


def invoke(client, args, n):
    payload = args.payload
    if args.distinct:
        payload = json.dumps(dict(json.loads(payload), n=n))
    params = {"FunctionName": args.function_name, "Payload": payload.encode()}
    if args.log_type:
        params["LogType"] = args.log_type
    if args.invocation_type:
        params["InvocationType"] = args.invocation_type
    if args.client_context:
        params["ClientContext"] = args.client_context
    resp = client.invoke(**params)
    log_result = resp.get("LogResult")
    return {
        "StatusCode": resp.get("StatusCode"),
        "FunctionError": resp.get("FunctionError"),
        "ExecutedVersion": resp.get("ExecutedVersion"),
        "LogResult": base64.b64decode(log_result).decode("utf-8", "replace")
        if log_result is not None
        else None,
        "Payload": resp["Payload"].read().decode("utf-8", "replace"),
        "RequestId": resp.get("ResponseMetadata", {}).get("RequestId"),
    }


def main():
    args = parse_args()
    client = make_client(args.endpoint)
    lock = threading.Lock()
    failures = []

    def one(n):
        try:
            line = json.dumps(invoke(client, args, n))
        except ClientError as exc:
            if not args.report_errors:
                with lock:
                    failures.append(repr(exc))
                return
            response = exc.response
            line = json.dumps(
                {
                    "Error": response.get("Error", {}).get("Code"),
                    "HTTPStatusCode": response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                    "Reason": response.get("Reason"),
                    "Message": response.get("Error", {}).get("Message"),
                }
            )
        except Exception as exc:  # report every failure, not just the first
            with lock:
                failures.append(repr(exc))
            return
        with lock:
            print(line, flush=True)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for failure in failures:
        print(f"invoke failed: {failure}", file=sys.stderr, flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

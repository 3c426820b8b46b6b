"""Call rapid's InvokeWithResponseStream with boto3's Lambda client, as a
user's code would, and print what the SDK decoded from the event stream.

Prints one JSON object on stdout:
  StatusCode, ExecutedVersion, ContentType, RequestId   the response's fields
  chunks          the PayloadChunk payloads in order, decoded as UTF-8
                  (with --lengths: their byte lengths instead)
  total           the number of payload bytes
  InvokeComplete  {ErrorCode, ErrorDetails, LogResult (decoded text)}, or
                  null when the stream had no InvokeComplete event
  events          the event names in order (PayloadChunk, InvokeComplete, ...)
"""

import argparse
import base64
import json

from boto_invoke import make_client  # same directory: one client setup for both


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--payload", default="{}", help="the event, JSON text")
    parser.add_argument("--function-name", default="function")
    parser.add_argument("--log-type", choices=["None", "Tail"])
    parser.add_argument(
        "--lengths",
        action="store_true",
        help="report each chunk's length instead of its text (for big streams)",
    )
    return parser.parse_args()


def main():
    args = parse_args()
    client = make_client(args.endpoint)
    params = {"FunctionName": args.function_name, "Payload": args.payload.encode()}
    if args.log_type:
        params["LogType"] = args.log_type
    resp = client.invoke_with_response_stream(**params)

    chunks = []
    total = 0
    complete = None
    events = []
    for event in resp["EventStream"]:
        for name, body in event.items():
            events.append(name)
            if name == "PayloadChunk":
                payload = body["Payload"]
                total += len(payload)
                chunks.append(len(payload) if args.lengths else payload.decode("utf-8", "replace"))
            elif name == "InvokeComplete":
                log_result = body.get("LogResult")
                complete = {
                    "ErrorCode": body.get("ErrorCode"),
                    "ErrorDetails": body.get("ErrorDetails"),
                    "LogResult": base64.b64decode(log_result).decode("utf-8", "replace")
                    if log_result is not None
                    else None,
                }

    print(
        json.dumps(
            {
                "StatusCode": resp.get("StatusCode"),
                "ExecutedVersion": resp.get("ExecutedVersion"),
                "ContentType": resp.get("ResponseStreamContentType"),
                "RequestId": resp.get("ResponseMetadata", {}).get("RequestId"),
                "chunks": chunks,
                "total": total,
                "InvokeComplete": complete,
                "events": events,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()

"""Invoke rapid's front door once with boto3's Lambda client and print what
the caller's code gets, success or not, as one JSON object:

  StatusCode, FunctionError, ContentType, Payload (text)   when it succeeded
  raised, message   the class name and text of the exception boto3 raised
                    (while invoking or while reading the payload), with
                    StatusCode/FunctionError when the response had arrived
"""

import argparse
import json

from boto_invoke import make_client  # same directory: one client setup


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--payload", default="{}", help="the event, JSON text")
    args = parser.parse_args()
    client = make_client(args.endpoint)
    out = {}
    try:
        resp = client.invoke(FunctionName="function", Payload=args.payload.encode())
        out["StatusCode"] = resp.get("StatusCode")
        out["FunctionError"] = resp.get("FunctionError")
        out["ContentType"] = resp.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("content-type")
        out["Payload"] = resp["Payload"].read().decode("utf-8", "replace")
    except Exception as exc:  # the point: what does the caller's code see
        out["raised"] = type(exc).__name__
        out["message"] = str(exc)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A runtime that answers each invoke with what its `next` carried (stdlib only).

The response is a JSON object:
  headers   every header of the `next` answer, names lower-cased
  event     the event body as text
so a test can check that nothing of the invoker's request reaches the runtime
beyond what Lambda passes. Prints "next headers runtime ready" once.
"""
import http.client
import json
import os

API = os.environ["AWS_LAMBDA_RUNTIME_API"]


def main():
    conn = http.client.HTTPConnection(API)
    print("next headers runtime ready", flush=True)
    while True:
        conn.request("GET", "/2018-06-01/runtime/invocation/next")
        resp = conn.getresponse()
        body = resp.read()
        headers = {name.lower(): value for name, value in resp.getheaders()}
        request_id = headers["lambda-runtime-aws-request-id"]
        answer = json.dumps({"headers": headers, "event": body.decode("utf-8", "replace")})
        conn.request(
            "POST",
            f"/2018-06-01/runtime/invocation/{request_id}/response",
            body=answer.encode(),
            headers={"Content-Type": "application/json"},
        )
        conn.getresponse().read()


if __name__ == "__main__":
    main()

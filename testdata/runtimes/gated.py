#!/usr/bin/env python3
"""A Lambda runtime that answers each invoke only when the test lets it.

Stdlib only. An event {"gate": PATH} names a FIFO: the runtime prints
"gated on <request id>", opens the FIFO for reading (which blocks until the
test opens it for writing), then echoes the event back. Any other event is
echoed at once. At start it prints its descriptor limits ("gated runtime
ready, nofile SOFT HARD"). Every request to the Runtime API uses a fresh connection, as
a runtime that does not keep its connection alive would.
"""

import http.client
import json
import os
import resource

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"


def call(method, path, body=None):
    conn = http.client.HTTPConnection(API)
    try:
        conn.request(method, BASE + path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(f"gated runtime ready, nofile {soft} {hard}", flush=True)
    while True:
        status, headers, body = call("GET", "/invocation/next")
        if status != 200:
            print(f"next failed: {status} {body!r}", flush=True)
            raise SystemExit(1)
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        try:
            event = json.loads(body)
        except ValueError:
            event = None
        if isinstance(event, dict) and "gate" in event:
            print(f"gated on {request_id}", flush=True)
            with open(event["gate"], "rb") as gate:
                gate.read()
        status, _, answer = call("POST", f"/invocation/{request_id}/response", body)
        print(f"response status: {status}", flush=True)


if __name__ == "__main__":
    main()

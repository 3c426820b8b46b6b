#!/usr/bin/env python3
"""A multi-concurrent Lambda runtime (Lambda Managed Instances, spec §9) for
exact protocol checks.

Stdlib only. It starts one worker thread per AWS_LAMBDA_MAX_CONCURRENCY slot
(plus CONCURRENT_EXTRA_WORKERS more, to try a poll past the limit); each
worker long-polls `next` on its own kept-alive connection and handles what
it gets. A worker whose `next` is refused prints "next refused: STATUS BODY"
and ends. Events:

- {"action": "echo", ...}: answers {"event", "request_id", "pid"} at once.
- {"action": "hold", "group": N, ...}: holds the invoke until N held ones
  are in the runtime at once, then the N are answered in the reverse order
  of their arrival, each with {"event", "request_id", "pid"}; "answered ID"
  is printed for each, in that order.
- {"action": "late", "gate": FIFO}: answers only once the test opens the
  FIFO for writing; prints "late response status: STATUS".
- {"action": "crash"}: the whole runtime exits with status 3.

It prints "concurrent runtime ready, K workers, pid PID" at start and
"handling ID" for each invoke it receives.
"""

import http.client
import json
import os
import sys
import threading

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
SLOTS = int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1"))
EXTRA = int(os.environ.get("CONCURRENT_EXTRA_WORKERS", "0"))

print_lock = threading.Lock()
held_lock = threading.Lock()
held = []  # (request_id, body) in arrival order


def say(line):
    with print_lock:
        print(line, flush=True)


def answer_of(request_id, event):
    return json.dumps({"event": event, "request_id": request_id, "pid": os.getpid()}).encode()


def post(conn, request_id, body):
    conn.request("POST", f"{BASE}/invocation/{request_id}/response", body=body)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def hold(conn, request_id, event):
    with held_lock:
        held.append((request_id, event))
        group = int(event.get("group", 1))
        if len(held) < group:
            return
        batch = list(reversed(held))
        held.clear()
    # The last to arrive answers the whole group, newest first.
    for rid, ev in batch:
        status = post(conn, rid, answer_of(rid, ev))
        say(f"answered {rid} ({status})")


def worker():
    conn = http.client.HTTPConnection(API)
    while True:
        conn.request("GET", f"{BASE}/invocation/next")
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            say(f"next refused: {resp.status} {body.decode(errors='replace')}")
            return
        request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
        say(f"handling {request_id}")
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        action = event.get("action") if isinstance(event, dict) else None
        if action == "hold":
            hold(conn, request_id, event)
        elif action == "late":
            with open(event["gate"], "rb") as gate:
                gate.read()
            status = post(conn, request_id, answer_of(request_id, event))
            say(f"late response status: {status}")
        elif action == "crash":
            say("crashing")
            os._exit(3)
        else:
            post(conn, request_id, answer_of(request_id, event))


def main():
    say(f"concurrent runtime ready, {SLOTS} workers, pid {os.getpid()}")
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(SLOTS + EXTRA)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    say("every worker ended")
    sys.exit(1)


if __name__ == "__main__":
    main()

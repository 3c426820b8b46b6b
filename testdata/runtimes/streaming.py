#!/usr/bin/env python3
"""A scripted runtime that streams its responses (Python stdlib only).

The event's "action" picks what it does:
  stream      send event["chunks"] (list of strings) as separate chunks;
              with "gate": a path, wait until that file exists before the
              last chunk (so a test can prove the first chunks arrived first);
              "chunksB64" instead of "chunks": base64 of each chunk, for
              bytes that are not text; "contentType" sets the Content-Type
  trailers    send event["partial"] (default "partial"; "" sends no
              chunk), then end with error trailers (event["errorType"],
              base64 body)
  crash       send one chunk, then exit 3 in the middle of the body
  big         stream event["size"] bytes in 64 KB chunks
  truncate    send one chunk, then close the connection mid-body
  bad_mode    post a response with Response-Mode "bogus"
  hang        send one chunk, then never finish
  slow        stream event["size"] bytes in 64 KB chunks, reporting progress
  wrong_id    stream a response for a random request id on another
              connection, print "wrong id answer: <status> <body>", then
              stream "wrong id status <status>" for the real one
Prints "streaming runtime ready" once, and what the API answered (each
refused `next` as "next answered 403: <body>").
"""
import base64
import json
import os
import socket
import sys
import threading
import uuid

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, _, PORT = API.partition(":")


def connect():
    s = socket.create_connection((HOST, int(PORT)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_response(s):
    """Reads one HTTP response (Content-Length bodies only)."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = s.recv(65536)
        if not part:
            return None, {}, b""
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = s.recv(65536)
        if not part:
            break
        body += part
    return status, headers, body


def next_event(s):
    # After a dropped stream, this next can reach rapid before it has seen
    # the drop (403 InvalidStateTransition): ask again, a bounded number of times.
    # A connection the server closed (it answered "Connection: close", or
    # dropped it) reads as status None: the caller reconnects.
    for _ in range(1000):
        try:
            s.sendall(f"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {API}\r\n\r\n".encode())
            status, headers, body = read_response(s)
        except (BrokenPipeError, ConnectionResetError):
            return None, {}, b""
        if status != 403:
            return status, headers, body
        print(f"next answered 403: {body.decode(errors='replace')}", flush=True)
    raise SystemExit("next kept answering 403")


def start(s, request_id, mode="streaming", content_type="text/plain"):
    s.sendall(
        (
            f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
            f"Host: {API}\r\n"
            f"Lambda-Runtime-Function-Response-Mode: {mode}\r\n"
            f"Content-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n"
            "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
            "\r\n"
        ).encode()
    )


def chunk(s, data):
    if isinstance(data, str):
        data = data.encode()
    if data:
        s.sendall(b"%x\r\n%s\r\n" % (len(data), data))


def finish(s, trailers=None):
    end = b"0\r\n"
    for k, v in (trailers or {}).items():
        end += f"{k}: {v}\r\n".encode()
    s.sendall(end + b"\r\n")
    status, headers, body = read_response(s)
    print(f"stream answer: {status} {body.decode(errors='replace')}", flush=True)
    return keeps_connection(headers)


def keeps_connection(headers):
    """Whether the server keeps the connection open after this answer."""
    return headers.get("connection", "").lower() != "close"


def wait_for_file(path):
    """Blocks until `path` exists, using inotify-free polling on a pipe timeout."""
    ready = threading.Event()
    while not os.path.exists(path):
        ready.wait(0.01)  # ok: bounded poll for a file the test creates


def handle(s, request_id, event):
    action = event.get("action", "stream")
    if action == "stream":
        if "chunksB64" in event:
            chunks = [base64.b64decode(c) for c in event["chunksB64"]]
        else:
            chunks = event.get("chunks", ["hello ", "world"])
        start(s, request_id, content_type=event.get("contentType", "text/plain"))
        for i, c in enumerate(chunks):
            if i == len(chunks) - 1 and event.get("gate"):
                print("waiting for gate", flush=True)
                wait_for_file(event["gate"])
            chunk(s, c)
        return finish(s)
    elif action == "trailers":
        start(s, request_id)
        chunk(s, event.get("partial", "partial"))
        body = json.dumps({"errorMessage": "broke mid-stream", "errorType": event["errorType"]})
        return finish(s, {
            "Lambda-Runtime-Function-Error-Type": event["errorType"],
            "Lambda-Runtime-Function-Error-Body": base64.b64encode(body.encode()).decode(),
        })
    elif action in ("big", "slow"):
        start(s, request_id, content_type="application/octet-stream")
        left = int(event["size"])
        block = b"x" * 65536
        sent = 0
        try:
            while left > 0:
                n = min(left, len(block))
                chunk(s, block[:n])
                left -= n
                sent += n
            return finish(s)
        except (BrokenPipeError, ConnectionResetError) as e:
            print(f"stream cut after {sent} bytes: {type(e).__name__}", flush=True)
            return False
    elif action == "truncate":
        start(s, request_id)
        chunk(s, "first")
        s.shutdown(socket.SHUT_RDWR)
        s.close()
        return False
    elif action == "crash":
        start(s, request_id)
        chunk(s, "first")
        os._exit(3)
    elif action == "bad_mode":
        body = b"{}"
        s.sendall(
            (
                f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
                f"Host: {API}\r\nLambda-Runtime-Function-Response-Mode: bogus\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
        )
        status, headers, answer = read_response(s)
        print(f"bad mode answer: {status} {answer.decode()}", flush=True)
        return keeps_connection(headers)
    elif action == "wrong_id":
        status, answer = stream_for_another_id()
        print(f"wrong id answer: {status} {answer.decode(errors='replace')}", flush=True)
        start(s, request_id)
        chunk(s, f"wrong id status {status}")
        return finish(s)
    elif action == "hang":
        start(s, request_id)
        chunk(s, "first")
        threading.Event().wait()  # ok: hangs on purpose until killed
    return True


def stream_for_another_id():
    """Streams a small response for a random request id on a new connection
    and returns what rapid answered (it may answer before the body is sent,
    so write errors are ignored and the answer read regardless)."""
    other = connect()
    try:
        try:
            start(other, str(uuid.uuid4()))
            chunk(other, "not yours")
            other.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            status, _, answer = read_response(other)
        except ConnectionResetError as e:
            status, answer = None, repr(e).encode()
        return status, answer
    finally:
        other.close()


def main():
    print("streaming runtime ready", flush=True)
    s = connect()
    while True:
        status, headers, body = next_event(s)
        if status is None:
            s = connect()
            continue
        request_id = headers["lambda-runtime-aws-request-id"]
        event = json.loads(body or b"{}")
        if not handle(s, request_id, event):
            s = connect()


if __name__ == "__main__":
    sys.exit(main())

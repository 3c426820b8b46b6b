#!/usr/bin/env python3
"""A Lambda runtime scripted by its events, for rapid's integration tests.

Stdlib only. It speaks the Runtime API at $AWS_LAMBDA_RUNTIME_API and does
what each invoke event (a JSON object) asks in its "action" field:

  echo (default)      respond with the event; a JSON object gets "pid" added
                      (and the response is typed event["responseContentType"],
                      default application/json), any other body (array,
                      string, empty) comes back as is, typed like the event
  headers             respond with the Lambda-Runtime-* headers and
                      Content-Type of `next` (names lower-cased), the
                      Lambda environment variables and the pid
  crash               exit with event["code"] (default 3) without responding
  hang                block forever without responding
  error               POST .../error typed event["errorType"]
  twice               respond, respond again, print the second status
  wrong_id            respond for a random id, print that status and body,
                      then respond {"wrong_id_status": N}
  big                 respond with a JSON string of event["size"] bytes and
                      print the status the runtime got; with event["fill"]
                      "pattern" the string's characters cycle through the
                      printable ASCII ones but '"' and '\\' (else "a...");
                      with event["chunked"] the body is sent chunked (no
                      Content-Length)
  cut_short           send a response head saying Content-Length
                      event["size"] and event["sent"] bytes of the "pattern"
                      body, then exit 3 without sending the rest (with
                      event["hang"], block forever instead, the connection
                      open)
  print               print event["lines"] lines "line i" (followed by a space
                      and event["padding"] when given), respond {"printed": N}
  next_while_running  call next again before responding; respond with its
                      status and body
  exit_after_response respond, then exit 0
  wait_fifo           print "waiting on <fifo> in <pid>", block until the
                      named pipe event["fifo"] is written to, then respond
                      with the pid
  background_session  fork a child that leaves the runtime's process group
                      and session (setsid) and writes a counter to
                      event["file"] every 10 ms; respond with its pid
  spawn_orphan        double-fork a grandchild that exits at once
  escape              double-fork a grandchild that leaves the runtime's
                      process group and session (setsid), ignores SIGTERM
                      and sleeps; respond with its pid
  listen_on           bind a TCP listener to {"host": NAME} (port 0) as an
                      extension does, and respond where it bound or why not
  fork_children       allocate event["mb"] MB (default 0, every page
                      touched), then fork event["n"] children, which share
                      it copy-on-write and sleep until killed; respond with
                      their pids
  zombies             respond with the number of zombies visible in /proc,
                      waiting (at most ~5 s) for it to drop to 0
  credentials         GET $AWS_CONTAINER_CREDENTIALS_FULL_URI with the
                      token of $AWS_CONTAINER_AUTHORIZATION_TOKEN, then with
                      a wrong one and with none; respond with the three
                      statuses and bodies and the credential variables

Init is driven by $SCRIPTED_INIT: unset = normal; "init_error" = POST
/init/error (type $SCRIPTED_INIT_ERROR_TYPE, default
Runtime.ImportModuleError) then block until killed; "exit" = exit 2 before
calling next; "hang" = never call next. With $SCRIPTED_INIT_MARKER set to a
file path, the init behaviour applies only while that file does not exist
(the first init creates it), so a test can fail one init and see the retry
succeed. With $SCRIPTED_ANNOUNCE_NEXT set, it prints "asking for next"
before each `next` call, so a test sees when the previous invoke is over
for the runtime.

Restore (init caching) is driven by $SCRIPTED_RESTORE: unset = go to
`invocation/next` at once; "hooks" = end init in GET /restore/next, then
print "after-restore hook ran" and go on; "error" = the same, then POST
/restore/error typed $SCRIPTED_RESTORE_ERROR_TYPE (default
Runtime.AfterRestoreError) and block until killed; "hang" = never come back
from the after-restore hook. With $SCRIPTED_RESTORE_MARKER set, "error" and
"hang" apply only while that file does not exist (then "hooks").

Every line it prints is flushed at once.
"""

import http.client
import json
import os
import signal
import socket
import sys
import threading
import time
import uuid

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
ENV_NAMES = [
    "AWS_LAMBDA_FUNCTION_NAME",
    "_HANDLER",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_RUNTIME_API",
    "TZ",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SESSION_TOKEN",
    "CUSTOMER_VAR",
]
CREDENTIAL_NAMES = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
]


def say(line):
    print(line, flush=True)


def block_forever():
    """Wait on an event nobody sets: only a signal ends this process."""
    threading.Event().wait()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def text(self):
        return self.body.decode("utf-8", "replace")


def call(method, path, body=None, headers=None, timeout=None):
    """One request on a fresh connection (the Runtime API is loopback)."""
    conn = http.client.HTTPConnection(API, timeout=timeout)
    try:
        conn.request(method, BASE + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, resp.headers, data)
    finally:
        conn.close()


PATTERN = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')


def big_body(size, fill):
    """A JSON string of `size` bytes: "aaa..." or the cycling pattern."""
    inner = max(size - 2, 0)
    if fill == "pattern":
        content = (PATTERN * (inner // len(PATTERN) + 1))[:inner]
    else:
        content = b"a" * inner
    return b'"' + content + b'"'


def post_chunked(path, body, content_type="application/json"):
    """POST `body` with Transfer-Encoding: chunked (no length up front)."""
    host, port = API.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port))
    try:
        chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
        conn.request(
            "POST",
            BASE + path,
            body=chunks,
            headers={"Content-Type": content_type},
            encode_chunked=True,
        )
        resp = conn.getresponse()
        return Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()


def post_cut_short(path, size, sent, hang=False):
    """Send a head saying Content-Length `size`, `sent` bytes of the body,
    then die (or hang): the runtime's response is cut short."""
    host, port = API.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {BASE}{path} HTTP/1.1\r\n"
        f"Host: {API}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {size}\r\n\r\n"
    ).encode()
    sock.sendall(head + big_body(size, "pattern")[:sent])
    say(f"cut short after {sent} of {size} bytes")
    if hang:
        block_forever()
    os._exit(3)


def post_large(path, body, content_type="application/json"):
    """POST a body the server may refuse before reading all of it.

    The response is read by this thread while another one writes, so an early
    413 followed by a closed connection is seen instead of a broken pipe.
    """
    host, port = API.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {BASE}{path} HTTP/1.1\r\n"
        f"Host: {API}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()

    def write():
        try:
            sock.sendall(head)
            view = memoryview(body)
            for start in range(0, len(body), 65536):
                sock.sendall(view[start : start + 65536])
        except OSError:
            pass  # the server answered early and closed: expected for 413

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        data = resp.read()
        result = Response(resp.status, resp.headers, data)
    except OSError as exc:
        result = Response(0, {}, repr(exc).encode())
    writer.join(timeout=30)
    sock.close()
    return result


def respond(request_id, body, content_type="application/json"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    return call(
        "POST",
        f"/invocation/{request_id}/response",
        body=body,
        headers={"Content-Type": content_type},
    )


def post_error(path, error_type, message):
    body = json.dumps(
        {"errorMessage": message, "errorType": error_type, "stackTrace": []}
    ).encode()
    return call(
        "POST",
        path,
        body=body,
        headers={
            "Content-Type": "application/json",
            "Lambda-Runtime-Function-Error-Type": error_type,
        },
    )


def get_credentials(token):
    """GET the credentials endpoint as the SDKs do; (status, body)."""
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if not uri:
        return None, "no AWS_CONTAINER_CREDENTIALS_FULL_URI"
    rest = uri.split("://", 1)[1]
    host, _, path = rest.partition("/")
    conn = http.client.HTTPConnection(host, timeout=20)
    try:
        headers = {} if token is None else {"Authorization": token}
        conn.request("GET", "/" + path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def zombie_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone between listdir and open
        # The state follows the command name, which is in parentheses.
        state = stat[stat.rfind(")") + 2 :].split(" ", 1)[0]
        if state == "Z":
            pids.append(int(entry))
    return pids


def spawn_orphan(escape=False):
    """Fork a child that forks a grandchild and exits, orphaning it; return
    the grandchild's pid. By default the grandchild exits at once; with
    `escape` it lives on in a session of its own (setsid) and ignores
    SIGTERM."""
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_fd)
        if escape:
            os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            if not escape:
                os._exit(0)
            os.close(write_fd)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            block_forever()
        os.write(write_fd, str(grandchild).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as r:
        grandchild = int(r.read() or "0")
    os.waitpid(child, 0)
    return grandchild


def handle(request_id, next_resp, event):
    raw = next_resp.body
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"

    if action == "echo":
        if isinstance(event, dict):
            content_type = event.get("responseContentType", "application/json")
            respond(request_id, dict(event, pid=os.getpid()), content_type)
        else:
            content_type = next_resp.headers.get("Content-Type", "application/json")
            respond(request_id, raw, content_type)
    elif action == "headers":
        headers = {
            name.lower(): value
            for name, value in next_resp.headers.items()
            if name.lower().startswith("lambda-runtime-")
            or name.lower() == "content-type"
        }
        env = {name: os.environ.get(name) for name in ENV_NAMES}
        respond(request_id, {"headers": headers, "env": env, "pid": os.getpid()})
    elif action == "crash":
        os._exit(int(event.get("code", 3)))
    elif action == "hang":
        say(f"hanging on {request_id} pid {os.getpid()}")
        block_forever()
    elif action == "error":
        post_error(
            f"/invocation/{request_id}/error",
            event.get("errorType", "Function.ScriptedError"),
            event.get("errorMessage", "scripted failure"),
        )
    elif action == "twice":
        respond(request_id, {"first": True})
        second = respond(request_id, {"second": True})
        say(f"second response status: {second.status}")
        say(f"second response body: {second.text()}")
    elif action == "wrong_id":
        wrong = respond(str(uuid.uuid4()), {"wrong": True})
        say(f"wrong id status: {wrong.status}")
        say(f"wrong id body: {wrong.text()}")
        respond(request_id, {"wrong_id_status": wrong.status})
    elif action == "big":
        size = int(event.get("size", 7 * 1024 * 1024))
        body = big_body(size, event.get("fill"))
        path = f"/invocation/{request_id}/response"
        if event.get("chunked"):
            resp = post_chunked(path, body)
        else:
            resp = post_large(path, body)
        say(f"big response status: {resp.status}")
        say(f"big response body: {resp.text()}")
    elif action == "cut_short":
        post_cut_short(
            f"/invocation/{request_id}/response",
            int(event["size"]),
            int(event["sent"]),
            bool(event.get("hang")),
        )
    elif action == "print":
        count = int(event.get("lines", 1))
        padding = event.get("padding")
        for i in range(count):
            say(f"line {i} {padding}" if padding else f"line {i}")
        respond(request_id, {"printed": count})
    elif action == "next_while_running":
        # rapid must refuse this at once; the timeout only keeps a broken
        # rapid from hanging the test forever.
        try:
            second = call("GET", "/invocation/next", timeout=20)
            result = {"status": second.status, "body": second.text()}
        except OSError as exc:
            result = {"status": None, "body": repr(exc)}
        respond(request_id, result)
    elif action == "allocate":
        # Touches event["mb"] MB (every page), then answers.
        blob = b"x" * (int(event["mb"]) * 1024 * 1024)
        respond(request_id, {"allocated": len(blob)})
    elif action == "background":
        # Background work that outlives the invoke: a thread writing a
        # counter to event["file"] every 10 ms (frozen between invokes in
        # Lambda, so the file does not change then).
        path = event["file"]
        with open(path, "w") as f:
            f.write("0")

        def count():
            n = 0
            while True:
                n += 1
                with open(path + ".tmp", "w") as f:
                    f.write(str(n))
                os.replace(path + ".tmp", path)
                time.sleep(0.01)  # ok: background work ticking on purpose

        threading.Thread(target=count, daemon=True).start()
        respond(request_id, {"counting": path})
    elif action == "wait_fifo":
        fifo = event["fifo"]
        say(f"waiting on {fifo} in {os.getpid()}")
        # Opening a named pipe for reading blocks until a writer opens it.
        with open(fifo) as f:
            f.read()
        respond(request_id, {"pid": os.getpid()})
    elif action == "background_session":
        path = event["file"]
        with open(path, "w") as f:
            f.write("0")
        child = os.fork()
        if child == 0:
            # A daemon of the function: no longer in the runtime's process
            # group, so signals to that group do not reach it.
            os.setsid()
            n = 0
            while True:
                n += 1
                with open(path + ".tmp", "w") as f:
                    f.write(str(n))
                os.replace(path + ".tmp", path)
                time.sleep(0.01)  # ok: background work ticking on purpose
        respond(request_id, {"counting": path, "pid": child})
    elif action == "exit_after_response":
        respond(request_id, {"exiting": True, "pid": os.getpid()})
        say("exiting after response")
        sys.stdout.flush()
        os._exit(0)
    elif action == "spawn_orphan":
        orphan = spawn_orphan()
        respond(request_id, {"ok": True, "orphan_pid": orphan})
    elif action == "escape":
        escapee = spawn_orphan(escape=True)
        respond(request_id, {"ok": True, "escaped_pid": escapee})
    elif action == "fork_children":
        shared = b"x" * (int(event.get("mb", 0)) * 1024 * 1024)
        pids = []
        for _ in range(int(event["n"])):
            pid = os.fork()
            if pid == 0:
                block_forever()
            pids.append(pid)
        respond(request_id, {"pids": pids, "shared": len(shared)})
    elif action == "credentials":
        token = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
        status, body = get_credentials(token)
        wrong_status, wrong_body = get_credentials(token + "-wrong")
        none_status, none_body = get_credentials(None)
        env = {name: os.environ.get(name) for name in CREDENTIAL_NAMES}
        respond(
            request_id,
            {
                "status": status,
                "body": body,
                "wrong_status": wrong_status,
                "wrong_body": wrong_body,
                "none_status": none_status,
                "env": env,
            },
        )
    elif action == "zombies":
        deadline = time.monotonic() + float(event.get("max_wait", 5))
        pids = zombie_pids()
        tick = threading.Event()
        while pids and time.monotonic() < deadline:
            tick.wait(0.05)  # ok: bounded poll of /proc, which has no change events
            pids = zombie_pids()
        respond(request_id, {"zombies": len(pids), "zombie_pids": pids})
    elif action == "listen_on":
        # What an extension written for Lambda does: bind its listener to
        # a host name (sandbox.localdomain).
        host = event["host"]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
                listener.bind((host, 0))
                address = listener.getsockname()[0]
            respond(request_id, {"bound": True, "address": address})
        except OSError as err:
            respond(request_id, {"bound": False, "error": str(err)})
    else:
        post_error(
            f"/invocation/{request_id}/error",
            "Function.UnknownAction",
            f"unknown action {action!r}",
        )


def init():
    mode = os.environ.get("SCRIPTED_INIT", "")
    marker = os.environ.get("SCRIPTED_INIT_MARKER")
    if marker:
        if os.path.exists(marker):
            mode = ""
        else:
            with open(marker, "w") as f:
                f.write(mode)
    if mode == "init_error":
        error_type = os.environ.get(
            "SCRIPTED_INIT_ERROR_TYPE", "Runtime.ImportModuleError"
        )
        resp = post_error("/init/error", error_type, "scripted init failure")
        say(f"init error status: {resp.status}")
        block_forever()
    elif mode == "exit":
        say("exiting during init")
        sys.stdout.flush()
        os._exit(2)
    elif mode == "hang":
        say(f"hanging during init pid {os.getpid()}")
        block_forever()


def restore():
    mode = os.environ.get("SCRIPTED_RESTORE", "")
    if not mode:
        return
    marker = os.environ.get("SCRIPTED_RESTORE_MARKER")
    if marker:
        if os.path.exists(marker):
            mode = "hooks"
        else:
            with open(marker, "w") as f:
                f.write(mode)
    resp = call("GET", "/restore/next")
    say(f"restore/next answered: {resp.status} {resp.text()!r}")
    if resp.status != 200:
        sys.exit(1)
    if mode == "error":
        error_type = os.environ.get(
            "SCRIPTED_RESTORE_ERROR_TYPE", "Runtime.AfterRestoreError"
        )
        err = post_error("/restore/error", error_type, "scripted restore failure")
        say(f"restore error status: {err.status}")
        block_forever()
    elif mode == "hang":
        say(f"hanging in the after-restore hook pid {os.getpid()}")
        block_forever()
    say("after-restore hook ran")


def main():
    say("scripted runtime ready")
    init()
    restore()
    announce = bool(os.environ.get("SCRIPTED_ANNOUNCE_NEXT"))
    while True:
        if announce:
            say("asking for next")
        nxt = call("GET", "/invocation/next")
        if nxt.status != 200:
            say(f"next failed: {nxt.status} {nxt.text()}")
            sys.exit(1)
        request_id = nxt.headers["Lambda-Runtime-Aws-Request-Id"]
        try:
            event = json.loads(nxt.body) if nxt.body.strip() else None
        except ValueError:
            event = None
        handle(request_id, nxt, event)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""An external Lambda extension scripted by its configuration, for rapid's
integration tests.

Stdlib only. The tests copy this file into an extensions directory under the
names they need; each copy registers under its own file name and behaves as
$EXT_CONFIG says for that name. $EXT_CONFIG is a JSON object
{"<file name>": {options}} ("*" applies to names not listed); every option is
optional:

  events       event types to register for (default ["INVOKE", "SHUTDOWN"])
  accountId    true: send Lambda-Extension-Accept-Feature: accountId
  name         register under this name instead of the file name (a name
               that is not a file in the directory is an internal extension)
  once         a file path: misbehave (init, onInvoke, before, after) only in
               the first process that starts, which creates the file, so a
               test can fail once and see the retry succeed
  before       API calls (steps, below) to make before registering
  after        steps to make after registering, before the first next
  init         "crash_before_register": exit 5 before registering;
               "crash": register, then exit 5; "init_error": register, POST
               /init/error (type `initErrorType`, default
               Extension.ScriptedInitError), then block until killed
  registerGate a file path: before registering, wait until it exists
  gate         a file path: before the first next, wait until it exists
  onInvoke     "record" (default): record and call next again;
               "crash": exit 6; "hang": never call next again;
               "delay": call next again only once $EXT_INVOKE_DELAY_FILE
               exists; "delay_then_crash": exit 6 once it exists;
               "late_register": register again as "<name>-late" (registration
               is closed by then) and record the answer
  subscribe    Telemetry / Logs API subscriptions to make after the `after`
               steps: a list of {"path": "/2022-07-01/telemetry" or
               "/2020-08-15/logs", "body": a JSON value (or "raw": text),
               "id": "own" (default), "missing", "unknown" or "invalid"},
               each answer recorded as {"kind":"api","call":"subscribe:<i>"}
  onShutdown   "exit" (default): record, exit 0; "ignore": ignore SIGTERM,
               record, never exit; "exit_error": POST /exit/error (type
               Extension.ScriptedExitError), record the answer, exit 0

Steps: register_empty_name, register_bad_json, register_unknown_event,
register_internal_shutdown (as "<name>-internal" for INVOKE and SHUTDOWN),
register_again (same name), register_extra (as "<name>-extra" for no event),
internal_agent (register "<name>-internal" for INVOKE and serve its events in
a thread, recorded as that name), next_missing_id, next_invalid_id,
next_unknown_id, init_error_unknown_id, exit_error_invalid_id,
wait_registered:N (until N "registered" records are in the record file).

Every step appends one JSON line to $EXT_RECORD_FILE (single writes, so the
lines of several extensions never interleave) and prints it to stdout:

  {"kind":"start","ext","pid","ms","env"}     at start (the whole environment)
  {"kind":"registered","ext","id","status","body"}
  {"kind":"api","ext","call","status","errorType","body"}   any other call
  {"kind":"event","ext","eventType","requestId"|"shutdownReason",
   "deadlineMs","ms","eventId","body"}       a SHUTDOWN record also lists
                                             the other children of rapid
                                             ("siblings": pid, state, cmdline)
  {"kind":"register_gate_waiting"|"gate_waiting"|..._released}  gates
  {"kind":"released","ext","requestId","ms"}  before next after an INVOKE

`ms` is the wall clock in Unix epoch milliseconds. It also prints one line on
stderr at start, so tests can see both streams echoed.
"""

import http.client
import json
import os
import signal
import sys
import threading
import time
import uuid

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2020-01-01/extension"
FILE_NAME = os.path.basename(sys.argv[0])
RECORD_FILE = os.environ.get("EXT_RECORD_FILE")
# Bounds that only turn a broken rapid into a failure instead of a hang.
CALL_TIMEOUT = 20
WAIT_MAX = 60
POLL = 0.02

_record_lock = threading.Lock()


def now_ms():
    return int(time.time() * 1000)


def config():
    try:
        all_config = json.loads(os.environ.get("EXT_CONFIG", "{}"))
    except ValueError:
        all_config = {}
    return all_config.get(FILE_NAME, all_config.get("*", {}))


def record(ext, fields):
    line = json.dumps(dict(fields, ext=ext)) + "\n"
    with _record_lock:
        sys.stdout.write(f"ext {ext}: {line}")
        sys.stdout.flush()
        if RECORD_FILE:
            fd = os.open(RECORD_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)


def block_forever():
    """Wait on an event nobody sets: only a signal ends this process."""
    threading.Event().wait()


def wait_until(check):
    """Bounded poll; True when `check()` held before WAIT_MAX seconds."""
    deadline = time.monotonic() + WAIT_MAX
    tick = threading.Event()
    while not check():
        if time.monotonic() >= deadline:
            return False
        tick.wait(POLL)  # ok: bounded poll of files, which have no change events
    return True


class Answer:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def fields(self):
        """What a record says about this answer."""
        parsed = self.json()
        error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
        return {
            "status": self.status,
            "errorType": error_type,
            "body": parsed if parsed is not None else self.body.decode("utf-8", "replace"),
        }


def call(method, path, body=None, headers=None, timeout=CALL_TIMEOUT, base=BASE):
    """One request on a fresh connection; an I/O failure is status 0."""
    conn = http.client.HTTPConnection(API, timeout=timeout)
    try:
        conn.request(method, base + path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return Answer(resp.status, resp.headers, resp.read())
    except OSError as exc:
        return Answer(0, {}, repr(exc).encode())
    finally:
        conn.close()


def register(name, events=None, raw_body=None, account_id=False):
    body = raw_body if raw_body is not None else json.dumps({"events": events or []})
    headers = {"Lambda-Extension-Name": name, "Content-Type": "application/json"}
    if account_id:
        headers["Lambda-Extension-Accept-Feature"] = "accountId"
    return call("POST", "/register", body=body.encode(), headers=headers)


def post_error(kind, ext_id, error_type):
    body = json.dumps(
        {"errorMessage": f"scripted {kind} error", "errorType": error_type, "stackTrace": []}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Lambda-Extension-Function-Error-Type": error_type,
    }
    if ext_id is not None:
        headers["Lambda-Extension-Identifier"] = ext_id
    return call("POST", f"/{kind}/error", body=body, headers=headers)


def subscribe(ext_id, spec):
    """A PUT to the Telemetry or Logs API as `spec` says (see `subscribe`)."""
    if "raw" in spec:
        body = spec["raw"].encode()
    else:
        body = json.dumps(spec.get("body")).encode()
    headers = {"Content-Type": "application/json"}
    identity = spec.get("id", "own")
    if identity == "own":
        headers["Lambda-Extension-Identifier"] = ext_id
    elif identity == "unknown":
        headers["Lambda-Extension-Identifier"] = str(uuid.uuid4())
    elif identity == "invalid":
        headers["Lambda-Extension-Identifier"] = "not-a-uuid"
    return call("PUT", spec["path"], body=body, headers=headers, base="")


def next_event(ext_id, timeout=None):
    headers = {} if ext_id is None else {"Lambda-Extension-Identifier": ext_id}
    return call("GET", "/event/next", headers=headers, timeout=timeout)


def count_registered():
    if not RECORD_FILE or not os.path.exists(RECORD_FILE):
        return 0
    count = 0
    with open(RECORD_FILE) as f:
        for line in f:
            try:
                count += json.loads(line).get("kind") == "registered"
            except ValueError:
                pass  # a line being written right now
    return count


class Extension:
    def __init__(self, cfg):
        self.cfg = cfg
        self.name = cfg.get("name", FILE_NAME)
        self.events = cfg.get("events", ["INVOKE", "SHUTDOWN"])
        self.misbehave = True
        once = cfg.get("once")
        if once:
            if os.path.exists(once):
                self.misbehave = False
            else:
                with open(once, "w") as f:
                    f.write(FILE_NAME)
        self.id = None

    def option(self, key, default=None):
        """A misbehaviour option: ignored after the first run with `once`."""
        return self.cfg.get(key, default) if self.misbehave else default

    def api(self, call_name, answer):
        record(self.name, dict(answer.fields(), kind="api", call=call_name))
        return answer

    def step(self, step):
        name = self.name
        if step == "register_empty_name":
            self.api(step, register("", self.events))
        elif step == "register_bad_json":
            self.api(step, register(name, raw_body='{"events": ["INVOKE",'))
        elif step == "register_unknown_event":
            self.api(step, register(name, ["INVOKE", "BOOT"]))
        elif step == "register_internal_shutdown":
            self.api(step, register(f"{name}-internal", ["INVOKE", "SHUTDOWN"]))
        elif step == "register_again":
            self.api(step, register(name, self.events))
        elif step == "register_extra":
            answer = self.api(step, register(f"{name}-extra", []))
            if answer.status == 200:
                serve_agent(f"{name}-extra", answer)
        elif step == "internal_agent":
            answer = self.api(step, register(f"{name}-internal", ["INVOKE"]))
            if answer.status == 200:
                serve_agent(f"{name}-internal", answer)
        elif step == "next_missing_id":
            self.api(step, next_event(None, timeout=CALL_TIMEOUT))
        elif step == "next_invalid_id":
            self.api(step, next_event("not-a-uuid", timeout=CALL_TIMEOUT))
        elif step == "next_unknown_id":
            self.api(step, next_event(str(uuid.uuid4()), timeout=CALL_TIMEOUT))
        elif step == "init_error_unknown_id":
            self.api(step, post_error("init", str(uuid.uuid4()), "Extension.Scripted"))
        elif step == "exit_error_invalid_id":
            self.api(step, post_error("exit", "not-a-uuid", "Extension.Scripted"))
        elif step.startswith("wait_registered:"):
            wanted = int(step.split(":", 1)[1])
            found = wait_until(lambda: count_registered() >= wanted)
            record(name, {"kind": "waited", "call": step, "found": found})
        else:
            record(name, {"kind": "unknown_step", "call": step})

    def run(self):
        if self.cfg.get("onShutdown") == "ignore":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for step in self.option("before", []):
            self.step(step)
        init = self.option("init", "")
        if init == "crash_before_register":
            record(self.name, {"kind": "crashing", "phase": "init"})
            os._exit(5)

        register_gate = self.cfg.get("registerGate")
        if register_gate:
            self.wait_gate("register_gate", register_gate)
        answer = register(self.name, self.events, account_id=self.cfg.get("accountId", False))
        if answer.status != 200:
            self.api("register", answer)
            sys.exit(1)
        self.id = answer.headers.get("Lambda-Extension-Identifier")
        record(self.name, dict(answer.fields(), kind="registered", id=self.id))

        for step in self.option("after", []):
            self.step(step)
        for index, spec in enumerate(self.option("subscribe", [])):
            self.api(f"subscribe:{index}", subscribe(self.id, spec))
        if init == "crash":
            record(self.name, {"kind": "crashing", "phase": "init"})
            os._exit(5)
        elif init == "init_error":
            error_type = self.cfg.get("initErrorType", "Extension.ScriptedInitError")
            self.api("init_error", post_error("init", self.id, error_type))
            block_forever()

        gate = self.cfg.get("gate")
        if gate:
            self.wait_gate("gate", gate)

        while True:
            answer = next_event(self.id)
            if answer.status != 200:
                self.api("next", answer)
                sys.exit(1)
            event = answer.json() or {}
            record_event(self.name, answer, event)
            if event.get("eventType") == "SHUTDOWN":
                self.on_shutdown()
            else:
                self.on_invoke(event)

    def wait_gate(self, gate, path):
        """Records `<gate>_waiting`, waits for the file, records `<gate>_released`."""
        record(self.name, {"kind": f"{gate}_waiting", "ms": now_ms()})
        found = wait_until(lambda: os.path.exists(path))
        record(self.name, {"kind": f"{gate}_released", "found": found, "ms": now_ms()})

    def on_invoke(self, event):
        action = self.option("onInvoke", "record")
        request_id = event.get("requestId")
        delay_file = os.environ.get("EXT_INVOKE_DELAY_FILE")
        if action == "crash":
            record(self.name, {"kind": "crashing", "phase": "invoke", "requestId": request_id})
            os._exit(6)
        elif action == "hang":
            record(self.name, {"kind": "hanging", "requestId": request_id, "pid": os.getpid()})
            block_forever()
        elif action in ("delay", "delay_then_crash"):
            found = bool(delay_file) and wait_until(lambda: os.path.exists(delay_file))
            if action == "delay_then_crash":
                record(self.name, {"kind": "crashing", "phase": "invoke", "requestId": request_id})
                os._exit(6)
            record(
                self.name,
                {"kind": "released", "requestId": request_id, "delayFileFound": found, "ms": now_ms()},
            )
            return
        elif action == "late_register":
            answer = self.api("late_register", register(f"{self.name}-late", ["INVOKE"]))
            if answer.status == 200:
                serve_agent(f"{self.name}-late", answer)
        record(self.name, {"kind": "released", "requestId": request_id, "ms": now_ms()})

    def on_shutdown(self):
        action = self.cfg.get("onShutdown", "exit")
        if action == "ignore":
            record(self.name, {"kind": "ignoring_shutdown", "pid": os.getpid()})
            block_forever()
        elif action == "exit_error":
            self.api("exit_error", post_error("exit", self.id, "Extension.ScriptedExitError"))
        sys.stdout.flush()
        os._exit(0)


def record_event(name, answer, event):
    fields = {
        "kind": "event",
        "eventType": event.get("eventType"),
        "deadlineMs": event.get("deadlineMs"),
        "ms": now_ms(),
        "eventId": answer.headers.get("Lambda-Extension-Event-Identifier"),
        "body": event,
    }
    for key in ("requestId", "shutdownReason", "invokedFunctionArn", "tracing"):
        if key in event:
            fields[key] = event[key]
    if event.get("eventType") == "SHUTDOWN":
        fields["siblings"] = siblings()
    record(name, fields)


def siblings():
    """The other children of our parent (rapid): pid, state and command line."""
    me = os.getpid()
    found = []
    parent = os.getppid()
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{parent}/task/{task}/children") as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            continue
        for pid in pids:
            if pid == me:
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
            except OSError:
                continue  # gone meanwhile
            state = stat[stat.rfind(")") + 2 :].split(" ", 1)[0]
            found.append({"pid": pid, "state": state, "cmdline": cmdline})
    return found


def serve_agent(name, answer):
    """Serve a second registration (an internal extension) in a thread."""
    ext_id = answer.headers.get("Lambda-Extension-Identifier")
    record(name, dict(answer.fields(), kind="registered", id=ext_id))

    def loop():
        while True:
            nxt = next_event(ext_id)
            if nxt.status != 200:
                record(name, dict(nxt.fields(), kind="api", call="next"))
                return
            event = nxt.json() or {}
            record_event(name, nxt, event)
            if event.get("eventType") == "INVOKE":
                record(name, {"kind": "released", "requestId": event.get("requestId"), "ms": now_ms()})

    threading.Thread(target=loop, daemon=True).start()


def main():
    print(f"ext {FILE_NAME}: started pid {os.getpid()}", flush=True)
    print(f"ext {FILE_NAME}: hello on stderr", file=sys.stderr, flush=True)
    env = dict(os.environ)
    record(FILE_NAME, {"kind": "start", "pid": os.getpid(), "ms": now_ms(), "env": env})
    Extension(config()).run()


if __name__ == "__main__":
    main()

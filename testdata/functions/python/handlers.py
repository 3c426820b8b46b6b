"""Handlers for the real awslambdaric client, used by rapid's integration tests.

Run as the runtime command `<venv python> -m awslambdaric handlers.<name>`
with this directory on PYTHONPATH (awslambdaric imports the handler module
with importlib, so it must be on sys.path).
"""

import os


def echo(event, context):
    return event


def fail(event, context):
    raise ValueError("boom")


def log(event, context):
    print("hello from python")
    return {"ok": True}


def context_info(event, context):
    client_context = None
    if context.client_context is not None:
        client_context = context.client_context.custom
    return {
        "aws_request_id": context.aws_request_id,
        "invoked_function_arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_time_in_millis": context.get_remaining_time_in_millis(),
        "client_context": client_context,
    }


def greet(event, context):
    """Reads a field of the event, as ordinary handlers do."""
    return {"greeting": "hello " + event["name"], "event_type": type(event).__name__}


def whoami(event, context):
    """The event, and which process and Runtime API address ran it."""
    return {
        "event": event,
        "pid": os.getpid(),
        "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
    }


def leveled_log(event, context):
    """Logs at debug, info and warning through `logging`, and prints a line:
    with AWS_LAMBDA_LOG_FORMAT=JSON awslambdaric writes the logging calls as
    JSON objects and drops those under AWS_LAMBDA_LOG_LEVEL."""
    import logging

    logger = logging.getLogger()
    logger.debug("debug line")
    logger.info("info line")
    logger.warning("warning line")
    print("printed line", flush=True)
    return {"logged": True}


def meet(event, context):
    """Multi-concurrency: marks its arrival in the directory `event["dir"]`
    and waits (at most 20 s) until `event["group"]` invokes have arrived, so
    it only comes back when that many ran side by side; then says which
    worker process ran it."""
    import time

    directory, group = event["dir"], int(event["group"])
    open(os.path.join(directory, context.aws_request_id), "w").close()
    deadline = time.monotonic() + 20
    while len(os.listdir(directory)) < group and time.monotonic() < deadline:
        time.sleep(0.01)  # ok: the other workers' arrivals are files, looked at every 10 ms
    return {
        "event": event,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "met": len(os.listdir(directory)),
    }


def hold(event, context):
    """Marks its arrival in the directory `event["dir"]`, then waits (at
    most 20 s) until the file `event["release"]` exists: the test decides
    when the invokes it holds end."""
    import time

    open(os.path.join(event["dir"], context.aws_request_id), "w").close()
    deadline = time.monotonic() + 20
    while not os.path.exists(event["release"]) and time.monotonic() < deadline:
        time.sleep(0.01)  # ok: the test's release is a file, looked at every 10 ms
    return {"event": event, "pid": os.getpid()}


def describe(event, context):
    """Who ran the invoke and the environment variables the event names."""
    return {
        "function_name": context.function_name,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "env": {name: os.environ.get(name) for name in event.get("names", [])},
        "cwd": os.getcwd(),
    }


def flaky(event, context):
    """Fails its first two tries (counted as files in `event["dir"]`),
    succeeds on the third."""
    tries = len(os.listdir(event["dir"]))
    open(os.path.join(event["dir"], str(tries)), "w").close()
    if tries < 2:
        raise RuntimeError("try %d fails" % (tries + 1))
    return {"tries": tries + 1}


def record(event, context):
    """Appends its event as a JSON line to the file $RECORD_FILE."""
    import json

    with open(os.environ["RECORD_FILE"], "a") as out:
        out.write(json.dumps(event) + "\n")
    return {}

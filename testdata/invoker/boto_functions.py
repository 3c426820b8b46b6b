"""Drive a rapid of many functions with boto3's Lambda client.

--steps is a JSON list of calls, each a list: ["list"], ["get", NAME],
["config", NAME, QUALIFIER-or-null], ["invoke", NAME, PAYLOAD, QUALIFIER-or-null],
["burst", [[NAME, PAYLOAD], ...]] (all at once, one thread each, waiting up to
two minutes for each answer).
Prints one JSON line per call, in order: for list the function names,
for get and config the fields a user reads, for invoke StatusCode,
FunctionError and Payload; a call the service refuses prints
{"Error": code, "HTTPStatusCode": status, "Message": ...}.
"""

import argparse
import json
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--steps", required=True)
    args = parser.parse_args()
    client = lambda_client(args.endpoint, 15)
    for step in json.loads(args.steps):
        try:
            if step[0] == "burst":
                print(json.dumps(burst(lambda_client(args.endpoint, 120), step[1])), flush=True)
                continue
            print(json.dumps(run(client, step)), flush=True)
        except ClientError as err:
            print(json.dumps({
                "Error": err.response["Error"]["Code"],
                "HTTPStatusCode": err.response["ResponseMetadata"]["HTTPStatusCode"],
                "Message": err.response["Error"].get("Message"),
            }), flush=True)


def lambda_client(endpoint, read_timeout):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=10,
                      read_timeout=read_timeout, max_pool_connections=32),
    )


def burst(client, calls):
    def one(call):
        try:
            resp = client.invoke(FunctionName=call[0], Payload=call[1].encode())
            return {"StatusCode": resp["StatusCode"], "FunctionError": resp.get("FunctionError"),
                    "Payload": resp["Payload"].read().decode()}
        except ClientError as err:
            return {"Error": err.response["Error"]["Code"],
                    "HTTPStatusCode": err.response["ResponseMetadata"]["HTTPStatusCode"]}
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return {"Answers": list(pool.map(one, calls))}


def configuration(config):
    keys = ["FunctionName", "FunctionArn", "Runtime", "Handler", "Timeout", "MemorySize",
            "Version", "PackageType", "Architectures", "State", "Environment"]
    return {key: config.get(key) for key in keys}


def run(client, step):
    op = step[0]
    if op == "list":
        found = client.list_functions()
        return {"Names": [f["FunctionName"] for f in found["Functions"]],
                "First": configuration(found["Functions"][0])}
    if op == "get":
        found = client.get_function(FunctionName=step[1])
        return {"Configuration": configuration(found["Configuration"]),
                "Concurrency": found.get("Concurrency")}
    if op == "config":
        params = {"FunctionName": step[1]}
        if step[2] is not None:
            params["Qualifier"] = step[2]
        return configuration(client.get_function_configuration(**params))
    if op == "invoke":
        params = {"FunctionName": step[1], "Payload": step[2].encode()}
        if step[3] is not None:
            params["Qualifier"] = step[3]
        resp = client.invoke(**params)
        return {"StatusCode": resp["StatusCode"], "FunctionError": resp.get("FunctionError"),
                "Payload": resp["Payload"].read().decode()}
    raise SystemExit(f"unknown step {step!r}")


if __name__ == "__main__":
    main()

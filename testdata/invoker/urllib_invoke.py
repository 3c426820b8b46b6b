"""Invoke rapid's front door with Python's urllib and no headers of its own,
as a quick script would: urllib then sends the payload as
`Content-Type: application/x-www-form-urlencoded`.

Prints one JSON object: status, the response headers (names lower-cased) and
the body as text.
"""

import argparse
import json
import urllib.request


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--payload", default="{}", help="the event, JSON text")
    args = parser.parse_args()
    url = args.endpoint + "/2015-03-31/functions/function/invocations"
    with urllib.request.urlopen(url, data=args.payload.encode(), timeout=600) as resp:
        out = {
            "status": resp.status,
            "headers": {name.lower(): value for name, value in resp.getheaders()},
            "body": resp.read().decode("utf-8", "replace"),
        }
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

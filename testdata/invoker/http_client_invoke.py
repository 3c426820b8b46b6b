"""Invoke rapid's front door with Python's http.client, as a hand-written
client would, and print what it sees as one JSON object:

  status, headers   the response head (header names lower-cased)
  body              what `resp.read()` returned, as text, when it returned
  raised, message   the class name and text of the exception `resp.read()`
                    raised (http.client.IncompleteRead for a body cut short)
  partial           the bytes IncompleteRead says did arrive, as text
"""

import argparse
import http.client
import json
import urllib.parse


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True, help="e.g. http://127.0.0.1:8080")
    parser.add_argument("--payload", default="{}", help="the event, JSON text")
    parser.add_argument("--te-trailers", action="store_true", help="send TE: trailers")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(args.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    headers = {"Content-Type": "application/json"}
    if args.te_trailers:
        headers["TE"] = "trailers"
    conn.request(
        "POST",
        "/2015-03-31/functions/function/invocations",
        body=args.payload.encode(),
        headers=headers,
    )
    resp = conn.getresponse()
    out = {
        "status": resp.status,
        "headers": {name.lower(): value for name, value in resp.getheaders()},
    }
    try:
        out["body"] = resp.read().decode("utf-8", "replace")
    except Exception as exc:  # the point: what does the caller's code see
        out["raised"] = type(exc).__name__
        out["message"] = str(exc)
        if isinstance(exc, http.client.IncompleteRead):
            out["partial"] = exc.partial.decode("utf-8", "replace")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

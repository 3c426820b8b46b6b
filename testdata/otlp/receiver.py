"""An OTLP/HTTP traces receiver for tests: decodes each POST to /v1/traces
as an ExportTraceServiceRequest with the OpenTelemetry project's protobuf
definitions and prints one JSON line per span on stdout (its resource's
attributes included). Prints `listening on PORT` first. Stdlib besides
opentelemetry-proto.

Usage: receiver.py [--refuse]   (--refuse answers every request 503)
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

REFUSE = "--refuse" in sys.argv[1:]


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(key_values):
    return {kv.key: value_of(kv.value) for kv in key_values}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if REFUSE:
            self.answer(503, b"")
            return
        if self.path != "/v1/traces":
            self.answer(404, b"")
            return
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    line = {
                        "contentType": self.headers.get("Content-Type"),
                        "scope": scope_spans.scope.name,
                        "resource": resource,
                        "name": span.name,
                        "traceId": span.trace_id.hex(),
                        "spanId": span.span_id.hex(),
                        "parentSpanId": span.parent_span_id.hex(),
                        "flags": span.flags,
                        "kind": span.kind,
                        "start": span.start_time_unix_nano,
                        "end": span.end_time_unix_nano,
                        "status": {"code": span.status.code, "message": span.status.message},
                        "attributes": attributes(span.attributes),
                        "events": [e.name for e in span.events],
                    }
                    print(json.dumps(line), flush=True)
        self.answer(200, ExportTraceServiceResponse().SerializeToString())

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
server.serve_forever()

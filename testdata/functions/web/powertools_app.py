"""Powertools for AWS Lambda (Python) event handlers behind awslambdaric:
the function URL resolver (`url_handler`) and the HTTP API resolver
(`http_api_handler`) with the same routes, for cmd/tests/web.rs."""

import base64

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    LambdaFunctionUrlResolver,
    Response,
)
from aws_lambda_powertools.shared.cookies import Cookie


def routes(app):
    @app.get("/items/<item_id>")
    def item(item_id):
        return {"item_id": item_id, "q": app.current_event.get_query_string_value("q")}

    @app.post("/echo-json")
    def echo_json():
        return {"got": app.current_event.json_body}

    @app.post("/echo-bytes")
    def echo_bytes():
        return Response(
            status_code=200,
            content_type="application/octet-stream",
            # decoded_body is text (UTF-8); a binary body is decoded here.
            body=base64.b64decode(app.current_event.body or ""),
        )

    @app.get("/login")
    def login():
        return Response(
            status_code=302,
            headers={"Location": "/whoami"},
            cookies=[
                Cookie(name="session", value="abc123", path="/", secure=False),
                Cookie(name="theme", value="dark", path="/", secure=False),
            ],
        )

    @app.get("/whoami")
    def whoami():
        return {"cookies": dict(c.split("=", 1) for c in app.current_event.cookies or [])}

    @app.get("/teapot")
    def teapot():
        return Response(
            status_code=418,
            content_type="application/json",
            body='{"detail": "short and stout"}',
        )

    @app.get("/crash")
    def crash():
        # Not caught by the resolver: a function error.
        raise RuntimeError("the handler crashed")

    return app


url_app = routes(LambdaFunctionUrlResolver())
http_api_app = routes(APIGatewayHttpResolver())


def url_handler(event, context):
    return url_app.resolve(event, context)


def http_api_handler(event, context):
    return http_api_app.resolve(event, context)

"""A Flask app behind apig-wsgi, served by awslambdaric, with the routes
of fastapi_app.py (cmd/tests/web.rs calls both alike)."""

from apig_wsgi import make_lambda_handler
from flask import Flask, Response, jsonify, redirect, request

app = Flask(__name__)


@app.get("/items/<item_id>")
def item(item_id):
    return jsonify(item_id=item_id, q=request.args.get("q"))


@app.post("/echo-json")
def echo_json():
    return jsonify(got=request.get_json())


@app.post("/form")
def form():
    return jsonify(name=request.form["name"], city=request.form["city"])


@app.post("/echo-bytes")
def echo_bytes():
    return Response(request.get_data(), mimetype="application/octet-stream")


@app.get("/download")
def download():
    n = int(request.args.get("n", "4"))
    return Response(bytes(range(256)) * n, mimetype="application/octet-stream")


@app.get("/login")
def login():
    response = redirect("/whoami", code=302)
    response.set_cookie("session", "abc123")
    response.set_cookie("theme", "dark")
    return response


@app.get("/whoami")
def whoami():
    return jsonify(cookies=dict(request.cookies))


@app.get("/teapot")
def teapot():
    return jsonify(detail="short and stout"), 418


@app.get("/boom")
def boom():
    raise ValueError("the app raised")


wsgi = make_lambda_handler(app, binary_support=True)


def handler(event, context):
    # rawPath in payload 2.0, path in 1.0.
    path = event.get("rawPath") or event.get("path")
    # A handler that raises: a function error, not an answer.
    if path == "/crash":
        raise RuntimeError("the handler crashed")
    return wsgi(event, context)

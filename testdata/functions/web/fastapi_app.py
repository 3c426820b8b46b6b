"""A FastAPI app behind Mangum, served by awslambdaric: what rapid's web
tests (cmd/tests/web.rs) call through function URL events. The Flask app
beside it has the same routes."""

import time

from fastapi import FastAPI, Form, HTTPException, Request, Response
from fastapi.responses import RedirectResponse
from mangum import Mangum

app = FastAPI()

# A 1x1 PNG, for the browser.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e2b1ef8a"
    "0000000049454e44ae426082"
)


@app.get("/items/{item_id}")
def item(item_id: str, q: str | None = None):
    return {"item_id": item_id, "q": q}


@app.post("/echo-json")
async def echo_json(request: Request):
    return {"got": await request.json()}


@app.post("/form")
def form(name: str = Form(), city: str = Form()):
    return {"name": name, "city": city}


@app.post("/echo-bytes")
async def echo_bytes(request: Request):
    return Response(await request.body(), media_type="application/octet-stream")


@app.get("/download")
def download(n: int = 4):
    return Response(bytes(range(256)) * n, media_type="application/octet-stream")


@app.get("/login")
def login():
    response = RedirectResponse("/whoami", status_code=302)
    response.set_cookie("session", "abc123")
    response.set_cookie("theme", "dark")
    return response


@app.get("/whoami")
def whoami(request: Request):
    return {"cookies": dict(request.cookies)}


@app.get("/teapot")
def teapot():
    raise HTTPException(status_code=418, detail="short and stout")


@app.get("/boom")
def boom():
    raise ValueError("the app raised")


@app.get("/browse")
def browse():
    # A browser's first stop: a cookie, and a redirect to the page.
    response = RedirectResponse("/page", status_code=302)
    response.set_cookie("session", "browser42")
    return response


@app.get("/page")
def page(request: Request):
    session = request.cookies.get("session", "none")
    html = (
        "<!doctype html><html><body>"
        f'<p id="session">{session}</p>'
        '<img id="pixel" src="/pixel.png" '
        "onload=\"document.getElementById('img').textContent="
        "this.naturalWidth+'x'+this.naturalHeight\">"
        '<p id="img">not loaded</p>'
        "</body></html>"
    )
    return Response(html, media_type="text/html")


@app.get("/pixel.png")
def pixel():
    return Response(PIXEL, media_type="image/png")


mangum = Mangum(app, lifespan="off")


def handler(event, context):
    # rawPath in payload 2.0, path in 1.0.
    path = event.get("rawPath") or event.get("path")
    # A handler that raises: a function error, not an answer.
    if path == "/crash":
        raise RuntimeError("the handler crashed")
    # A result that is no HTTP answer.
    if path == "/bad-answer":
        return {"statusCode": "teapot"}
    if path == "/sleep":
        time.sleep(120)  # ok: the handler outlives any short function timeout on purpose
    return mangum(event, context)

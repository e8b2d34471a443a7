"""Access control: with `API_TOKEN` set, every surface but the health probes needs it.

Programs send `Authorization: Bearer <token>` (REST, /metrics, gradio_client's `headers=`, MCP clients). People
sign in once on a small form, which sets a cookie holding an HMAC of the token (never the token itself). The
check is one pure-ASGI middleware in front of everything, and Gradio gets the same check as its
`auth_dependency`, so its own routes know the app is guarded. The token is never logged or echoed.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from collections.abc import Callable, Mapping
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

SIGN_IN_PATH = "/sign-in"
COOKIE_NAME = "house_price_access"
OPEN_PATHS = frozenset({"/health/live", "/health/ready", SIGN_IN_PATH})
_MAX_FORM_BYTES = 4096


def surface_of(path: str) -> str:
    """The metrics label of a request refused before it reached a surface (the page and the Gradio API share
    their routes, so both are `gradio` here)."""
    if path.startswith("/api/"):
        return "rest"
    if path.startswith("/metrics"):
        return "metrics"
    if path.startswith("/gradio_api/mcp"):
        return "mcp"
    return "gradio"


class TokenCheck:
    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.cookie_value = hmac.new(self._token, b"house-price-estimator session", hashlib.sha256).hexdigest()

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.encode(), self._token)

    def allows(self, headers: Mapping[str, str]) -> bool:
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_matches(credentials.strip()):
            return True
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed Cookie header is simply no credential
            return False
        morsel = cookie.get(COOKIE_NAME)
        return morsel is not None and hmac.compare_digest(morsel.value, self.cookie_value)

    def gradio_user(self, request: Request) -> str | None:
        """Gradio's `auth_dependency`: a user name when the request carries the token, else None."""
        return "token-holder" if self.allows(request.headers) else None


class AccessGuard:
    """Refuse requests without the token: 401 JSON for programs, a redirect to the sign-in form for browsers."""

    def __init__(self, app: ASGIApp, *, check: TokenCheck, on_refused: Callable[[str], None]) -> None:
        self.app, self.check, self.on_refused = app, check, on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope.get("headers", [])}
        if path == SIGN_IN_PATH and scope["type"] == "http":
            await self._sign_in(scope, receive, send, headers)
            return
        if path in OPEN_PATHS or self.check.allows(headers):
            await self.app(scope, receive, send)
            return
        self.on_refused(surface_of(path))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["method"] == "GET" and "text/html" in headers.get("accept", ""):
            target = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
            await _respond(send, 303, b"", [(b"location", f"{SIGN_IN_PATH}?next={quote(target)}".encode())])
            return
        given = "authorization" in headers
        detail = (
            "the API token is wrong" if given else "this app needs its API token: send `Authorization: Bearer <token>`"
        )
        body = json.dumps({"detail": detail, "problems": [detail]}).encode()
        await _respond(
            send, 401, body, [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="api"')]
        )

    async def _sign_in(self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]) -> None:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        target = _safe_target(query.get("next", ["/"])[0])
        if scope["method"] != "POST":
            await _page(send, 200, target, "")
            return
        body = await _read_body(receive)
        form = parse_qs(body.decode("utf-8", errors="replace"))
        target = _safe_target(form.get("next", [target])[0])
        if not self.check.token_matches(form.get("token", [""])[0].strip()):
            self.on_refused("gradio")
            await _page(send, 401, target, "That is not the token. Ask the app's operator for it.")
            return
        secure = scope.get("scheme") == "https" or headers.get("x-forwarded-proto") == "https"
        # Inside the Hub's iframe the cookie is third-party: it must be SameSite=None and Secure there.
        attributes = "; Secure; SameSite=None" if secure else "; SameSite=Lax"
        cookie = f"{COOKIE_NAME}={self.check.cookie_value}; Path=/; HttpOnly{attributes}"
        await _respond(send, 303, b"", [(b"location", target.encode()), (b"set-cookie", cookie.encode())])


def _safe_target(target: str) -> str:
    """Only paths on this app: never redirect a signed-in person elsewhere."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body") or len(body) > _MAX_FORM_BYTES:
            return body[:_MAX_FORM_BYTES]


async def _page(send: Send, status: int, target: str, error: str) -> None:
    message = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1rem;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}}
.error{{color:#b00020}}</style>
</head><body><h1>House price estimator</h1><p>This app is private. Enter the API token you were given.</p>{message}
<form method="post" action="{SIGN_IN_PATH}"><input type="hidden" name="next" value="{html.escape(target)}">
<label for="token">API token</label><input id="token" name="token" type="password" autocomplete="current-password"
required autofocus><button type="submit">Sign in</button></form></body></html>"""
    await _respond(send, status, page.encode(), [(b"content-type", b"text/html; charset=utf-8")])


async def _respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})

"""Bearer-token protection of every route, as ASGI middleware (so nothing routed escapes it:
API, metrics, health, docs, OpenAPI schema, dashboard and its assets alike).

A request passes with ``Authorization: Bearer <token>``, or with the cookie the dashboard
gets by opening ``/?token=<token>`` once (a browser cannot add the header to a page it
navigates to; the redirect drops the token from the address bar). Tokens are compared in
constant time. Missing or wrong credentials get 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from http.cookies import SimpleCookie
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

__all__ = ["TokenAuth", "COOKIE"]

COOKIE = "dstream_session"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class TokenAuth:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], token: str) -> None:
        if not token:
            raise ValueError("TokenAuth needs a non-empty token")
        self.app = app
        self._token = token.encode()
        #: what the cookie holds: derived from the token, so the token itself never sits in it
        self._cookie_value = hmac.new(self._token, b"dstream dashboard session", hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        verdict = self._check(headers)
        if verdict is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http" and scope.get("path") == "/" and self._query_token_ok(scope):
            await _respond(send, 303, {"detail": "authenticated; see /"}, [
                (b"location", b"/"),
                (b"set-cookie", f"{COOKIE}={self._cookie_value}; HttpOnly; SameSite=Strict; "
                                f"Path=/".encode())])
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _respond(send, 401, {"detail": verdict},
                       [(b"www-authenticate", b'Bearer realm="dstream"')])

    def _check(self, headers: dict[bytes, bytes]) -> str | None:
        """None when the request is authenticated, else why not."""
        auth = headers.get(b"authorization")
        if auth is not None:
            scheme, _, credentials = auth.partition(b" ")
            if scheme.lower() != b"bearer":
                return "use an 'Authorization: Bearer <token>' header"
            if hmac.compare_digest(credentials.strip(), self._token):
                return None
            return "invalid bearer token"
        cookie = headers.get(b"cookie")
        if cookie is not None:
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(cookie.decode("latin-1"))
            except Exception:
                return "unreadable cookie header"
            morsel = jar.get(COOKIE)
            if morsel is not None and hmac.compare_digest(morsel.value.encode(), self._cookie_value.encode()):
                return None
        return "missing bearer token: send 'Authorization: Bearer <token>' (or open /?token=<token>)"

    def _query_token_ok(self, scope: Scope) -> bool:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = query.get("token", [""])[0].encode()
        return bool(given) and hmac.compare_digest(given, self._token)


async def _respond(send: Send, status: int, body: dict[str, str],
                   headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(payload)).encode()), *headers]})
    await send({"type": "http.response.body", "body": payload})

"""Guards in front of the Client API's routes: the Host header (against DNS rebinding),
an optional bearer token, the request body's size and its JSON nesting depth.

They run as ASGI middleware before any route, so a hostile request is answered by the
server thread and never reaches the experiment's event loop:

=====================  ===========================================================
Host not allowed       400 ``Invalid host header`` (Starlette's TrustedHostMiddleware)
no or a wrong token    401 ``{"detail": "..."}`` with ``WWW-Authenticate: Bearer``
body too large         413 ``{"detail": "... limit of N bytes"}``
JSON nested too deep   400 ``{"detail": "... limit of N levels"}``
=====================  ===========================================================

Example:
    >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    >>> allowed_hosts("127.0.0.1", ["tune.example.com"])
    ['localhost', '127.0.0.1', '[::1]', 'tune.example.com']
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from starlette.datastructures import Headers
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The environment variable holding the server's bearer token (when not given).
TOKEN_ENV = "TUNEFLOWS_SERVER_TOKEN"
#: The environment variable listing more host names the server answers to (commas).
HOSTS_ENV = "TUNEFLOWS_SERVER_HOSTS"
#: Host names every server answers to (a Host header's IPv6 literal keeps its brackets).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_JSON_DEPTH = 32
#: A body over the limit is read (and dropped) up to this size before the 413, so that
#: the client, still sending, reads the answer instead of a reset connection.
DRAIN_LIMIT_BYTES = 64_000_000

_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_JSON_BRACKET = re.compile(rb"[\[\]{}]")


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> list[str]:
    """The Host header values a server bound to ``bind_host`` answers to: loopback
    names, the bound address itself (unless a wildcard, then this machine's host
    names), ``extra`` and those in ``TUNEFLOWS_SERVER_HOSTS``."""
    hosts = list(LOOPBACK_HOSTS)
    if bind_host in ("0.0.0.0", "::", ""):
        hosts += [socket.gethostname(), socket.getfqdn()]
    else:
        hosts.append(f"[{bind_host}]" if ":" in bind_host else bind_host)
    hosts += list(extra)
    hosts += [h.strip() for h in os.environ.get(HOSTS_ENV, "").split(",") if h.strip()]
    return list(dict.fromkeys(h.lower() for h in hosts))


def resolve_server_token(bind_host: str, token: Optional[str]) -> Optional[str]:
    """The bearer token a server bound to ``bind_host`` requires: ``token``, else
    ``TUNEFLOWS_SERVER_TOKEN``, else none (loopback only).

    Raises:
        ValueError: ``bind_host`` is not a loopback address and no token is set.

    Example:
        >>> resolve_server_token("127.0.0.1", None) is None
        True
        >>> resolve_server_token("0.0.0.0", None)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: The TuneServer would listen on 0.0.0.0, beyond this machine, without a ...
    """
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(bind_host):
        raise ValueError(f"The TuneServer would listen on {bind_host}, beyond this machine, "
                         f"without a token: pass server_token=... or set {TOKEN_ENV} "
                         f"(clients send it as a bearer token).")
    return token


def json_depth(body: bytes, stop_after: Optional[int] = None) -> int:
    """How deeply arrays and objects nest in the JSON text ``body`` (brackets inside
    strings do not count); counting stops once past ``stop_after``. Iterative: any
    depth is measured without recursion."""
    depth = deepest = 0
    for match in _JSON_BRACKET.finditer(_JSON_STRING.sub(b'""', body)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
        if stop_after is not None and deepest > stop_after:
            break
    return deepest


@dataclass(frozen=True)
class RequestGuards:
    """What the Client API accepts.

    Attributes:
        max_body_bytes: Largest request body (413 beyond).
        max_json_depth: Deepest nesting of a JSON body (400 beyond).
        hosts: Host header values served (None: any; a TuneServer always sets them).
        token: Bearer token every request must carry (None: none asked).
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    hosts: Optional[Sequence[str]] = None
    token: Optional[str] = None

    def install(self, app: Any) -> None:
        """Adds the guards to ``app`` (a FastAPI or Starlette app): Host first, then
        the token, then the body, so an unauthenticated body is never read."""
        app.add_middleware(BodyLimits, max_bytes=self.max_body_bytes,
                           max_depth=self.max_json_depth)
        if self.token is not None:
            app.add_middleware(BearerToken, token=self.token)
        if self.hosts is not None:
            app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(self.hosts))


class BearerToken:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>`` matches."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scheme, _, given = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            problem = "This TuneServer needs a bearer token (Authorization: Bearer <token>)."
        elif not hmac.compare_digest(given.strip().encode(), self._token):
            problem = "Wrong bearer token for this TuneServer."
        else:
            await self.app(scope, receive, send)
            return
        await JSONResponse({"detail": problem}, status_code=401,
                           headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)


class BodyLimits:
    """ASGI middleware: 413 for a body over ``max_bytes``, 400 for JSON nested deeper
    than ``max_depth``; the body is read once here and handed on."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = await self._read(scope, receive)
        if body is None:
            await self._refuse(413, f"Request body over the limit of {self.max_bytes} bytes.",
                               scope, receive, send)
            return
        if json_depth(body, self.max_depth) > self.max_depth:
            await self._refuse(400, f"JSON body nested deeper than the limit of "
                                    f"{self.max_depth} levels.", scope, receive, send)
            return
        handed: list[bool] = []

        async def replay() -> Message:
            if handed:
                return await receive()
            handed.append(True)
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> Optional[bytes]:
        """The whole body, or None when it is over the limit (read up to the drain
        limit, so that the client gets to read the refusal)."""
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > DRAIN_LIMIT_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b""  # the client left
            size += len(message.get("body", b""))
            if size > DRAIN_LIMIT_BYTES:
                return None
            if size <= self.max_bytes:
                chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks) if size <= self.max_bytes else None

    @staticmethod
    async def _refuse(status: int, detail: str, scope: Scope, receive: Receive,
                      send: Send) -> None:
        await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)

"""A small asyncio HTTP/1.1 client for the load driver: one connection per request, as a
gunicorn sync worker closes each one; cookies per session; chunked bodies; rows counted."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

CSRF = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Session:
    """One signed-in browser: its cookies and the CSRF token from its pages."""

    username: str = ""
    cookies: dict[str, str] = field(default_factory=dict)
    csrf_token: str = ""

    def header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def take_cookies(self, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            if name != "set-cookie":
                continue
            pair, _sep, attributes = value.partition(";")
            key, _eq, val = pair.strip().partition("=")
            expired = "max-age=0" in attributes.lower() or "1970" in attributes
            if expired or not val:
                self.cookies.pop(key, None)
            else:
                self.cookies[key] = val


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # empty when the caller did not keep it
    size: int  # body bytes
    lines: int  # newlines in the body
    seconds: float  # from connecting to the last body byte
    complete: bool = True  # False: cut off at `stop_at`

    @property
    def location(self) -> str:
        for name, value in self.headers:
            if name == "location":
                return urlsplit(value).path
        return ""

    def csrf_token(self) -> str:
        match = CSRF.search(self.body)
        return match.group(1).decode() if match else ""


class HTTPError(Exception):
    pass


async def fetch(
    host: str,
    port: int,
    method: str,
    path: str,
    session: Session | None = None,
    form: dict | list | None = None,
    accept: str = "text/html",
    keep_body: bool = True,
    timeout: float = 120.0,
    stop_at: float | None = None,
) -> Reply:
    """One request on a new connection; the time covers connect, send, and the whole body.

    With `stop_at` (a time.perf_counter() value), a body still coming then is cut off: the
    reply has what came so far and `complete` False, and the connection is closed.
    """
    started = time.perf_counter()
    body = urlencode(form, doseq=True).encode() if form is not None else b""
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}:{port}",
        f"Accept: {accept}",
        "Accept-Language: zh-CN,zh;q=0.9",
        "User-Agent: lms-bench",
        "Connection: close",
    ]
    if session is not None and session.cookies:
        lines.append(f"Cookie: {session.header()}")
    if form is not None:
        lines.append("Content-Type: application/x-www-form-urlencoded")
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def exchange() -> Reply:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            headers = []
            for line in header_lines:
                if ":" in line:
                    name, _sep, value = line.partition(":")
                    headers.append((name.strip().lower(), value.strip()))
            get = dict(headers)
            kept: list[bytes] = []
            size = newlines = 0

            def take(data: bytes) -> None:
                nonlocal size, newlines
                size += len(data)
                newlines += data.count(b"\n")
                if keep_body:
                    kept.append(data)

            async def body() -> None:
                if method == "HEAD" or status in (204, 304):
                    return
                if get.get("transfer-encoding", "").lower() == "chunked":
                    while True:
                        size_line = await reader.readuntil(b"\r\n")
                        chunk = int(size_line.split(b";")[0].strip() or b"0", 16)
                        if chunk == 0:
                            await reader.readuntil(b"\r\n")
                            return
                        take(await reader.readexactly(chunk))
                        await reader.readexactly(2)
                elif "content-length" in get:
                    remaining = int(get["content-length"])
                    while remaining:
                        data = await reader.read(min(remaining, 1 << 16))
                        if not data:
                            raise HTTPError("connection closed inside the body")
                        remaining -= len(data)
                        take(data)
                else:
                    while data := await reader.read(1 << 16):
                        take(data)

            complete = True
            if stop_at is None:
                await body()
            else:
                try:
                    await asyncio.wait_for(body(), max(0.0, stop_at - time.perf_counter()))
                except TimeoutError:
                    complete = False
            return Reply(
                status,
                headers,
                b"".join(kept),
                size,
                newlines,
                time.perf_counter() - started,
                complete,
            )
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    reply = await asyncio.wait_for(exchange(), timeout)
    if session is not None:
        session.take_cookies(reply.headers)
    return reply


async def sign_in(host: str, port: int, username: str, password: str) -> Session:
    """Sign in through the login form, CSRF token and all, as a browser does."""
    session = Session(username)
    page = await fetch(host, port, "GET", "/login", session)
    token = page.csrf_token()
    if page.status != 200 or not token:
        raise HTTPError(f"GET /login: {page.status}, no CSRF token")
    form = {"csrf_token": token, "username": username, "password": password}
    reply = await fetch(host, port, "POST", "/login", session, form)
    if reply.status != 302:
        raise HTTPError(f"{username} could not sign in: {reply.status}")
    landing = await fetch(host, port, "GET", reply.location or "/", session)
    session.csrf_token = landing.csrf_token() or token
    return session

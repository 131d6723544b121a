"""The emulator's HTTP front: HTTP/1.1 with keep-alive, one thread per connection.

moto's own server runs werkzeug's development server, which closes the connection after
every response: each request then pays a TCP handshake and a new thread, on the one core
the emulator's Python has (measured: a trivial request cost the server 1.3 ms of CPU, 0.6 ms
here, and 2,000 requests left 5,000 sockets in TIME-WAIT). boto3 keeps its connections, so
here one thread serves every request of a connection.

Each request's whole body is read before the app runs and each response is buffered whole,
so the next request on a connection always starts at a request line."""

from __future__ import annotations

import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from io import BytesIO
from typing import Any
from urllib.parse import unquote_to_bytes

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

# Seconds a kept-alive connection may sit unused before it is closed: short, as gunicorn's,
# so idle Lambda workers do not hold ephemeral ports (which another server may want) for long.
IDLE_TIMEOUT = 5.0
MAX_LINE = 65536
MAX_HEADERS = 200
NO_BODY = frozenset({204, 304})
HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding"})

log = logging.getLogger("ordercli.http")


class BadRequest(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class Request:
    """One parsed request: what the WSGI environ is built from."""

    def __init__(self, method: str, target: str, version: str) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def header(self, name: str) -> str:
        """The values of a header joined by commas ("" if absent); `name` in lower case."""
        return ",".join(v for k, v in self.headers if k.lower() == name)

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.header("connection").split(",")}
        if self.version == "HTTP/1.1":
            return "close" not in tokens
        return "keep-alive" in tokens


def read_line(rfile: Any, too_long: str) -> bytes:
    line: bytes = rfile.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise BadRequest(too_long)
    return line


def read_head(rfile: Any) -> Request | None:
    """The request line and headers; None when the client closed the connection."""
    line = read_line(rfile, "414 URI Too Long")
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        raise BadRequest("400 Bad Request")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise BadRequest("505 HTTP Version Not Supported")
    request = Request(method, target, version)
    while True:
        raw = read_line(rfile, "431 Request Header Fields Too Large")
        if raw in (b"\r\n", b"\n"):
            return request
        if not raw or raw[:1] in (b" ", b"\t"):  # cut short, or obsolete line folding
            raise BadRequest("400 Bad Request")
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("400 Bad Request")
        request.headers.append((name, value.strip()))
        if len(request.headers) > MAX_HEADERS:
            raise BadRequest("431 Request Header Fields Too Large")


def read_chunked(rfile: Any) -> bytes:
    out = BytesIO()
    while True:
        size_line = read_line(rfile, "400 Bad Request").split(b";", 1)[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            raise BadRequest("400 Bad Request") from None
        if size == 0:
            while read_line(rfile, "400 Bad Request") not in (b"\r\n", b"\n", b""):
                pass  # trailers: ignored
            return out.getvalue()
        chunk = rfile.read(size)
        if len(chunk) < size:
            raise BadRequest("400 Bad Request")
        out.write(chunk)
        read_line(rfile, "400 Bad Request")  # the CRLF after the chunk


def read_body(rfile: Any, wfile: Any, request: Request) -> bytes:
    chunked = "chunked" in request.header("transfer-encoding").lower()
    length_text = request.header("content-length")
    if not chunked and not length_text:
        return b""
    if request.version == "HTTP/1.1" and request.header("expect").lower() == "100-continue":
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        return read_chunked(rfile)
    try:
        length = int(length_text)
    except ValueError:
        raise BadRequest("400 Bad Request") from None
    if length < 0:
        raise BadRequest("400 Bad Request")
    body: bytes = rfile.read(length)
    if len(body) < length:
        raise BadRequest("400 Bad Request")
    return body


def environ_for(request: Request, server: Any, client: tuple[str, int]) -> dict[str, Any]:
    """The WSGI environ (PEP 3333), built as werkzeug's server builds it for moto: headers
    with an underscore in their name are dropped (they could pose as dashed ones)."""
    path, _, query = request.target.partition("?")
    if "://" in path:  # an absolute URL: the host part is not the path
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    host, port = server.server_address[:2]
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(request.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "SERVER_SOFTWARE": "ordercli-emulator",
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "REQUEST_URI": request.target,
        "RAW_URI": request.target,
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": client[1],
        "SERVER_NAME": host,
        "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": request.version,
    }
    for name, value in request.headers:
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ[key] = value
            continue
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is read whole and dechunked: its length is set below
        key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    environ["CONTENT_LENGTH"] = str(len(request.body))
    return environ


def run_app(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    started: list[Any] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]  # nothing is sent before the app returns
        return chunks.append

    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI app returned without calling start_response")
    return started[0], started[1], b"".join(chunks)


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def response_bytes(
    status: str, headers: list[tuple[str, str]], body: bytes, *, head: bool, keep_alive: bool
) -> bytes:
    code = int(status[:3])
    send_body = not (head or code in NO_BODY or 100 <= code < 200)
    lines = [f"HTTP/1.1 {status}"]
    names = set()
    for name, value in headers:
        lower = name.lower()
        if lower in HOP_BY_HOP or (send_body and lower == "content-length"):
            continue
        names.add(lower)
        lines.append(f"{name}: {value}")
    if send_body:
        lines.append(f"Content-Length: {len(body)}")
    if "date" not in names:
        lines.append(f"Date: {http_date()}")
    if "server" not in names:
        lines.append("Server: ordercli-emulator")
    if not keep_alive:
        lines.append("Connection: close")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head_bytes + body if send_body else head_bytes


class Handler(socketserver.StreamRequestHandler):
    """Serves the requests of one connection until the client closes it or goes idle."""

    disable_nagle_algorithm = True
    server: WSGIServer

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout)

    def handle(self) -> None:
        try:
            while self.handle_one():
                pass
        except OSError:  # reset, broken pipe, idle timeout
            pass  # the client went away or sat idle: nothing to answer

    def handle_one(self) -> bool:
        """Serve one request; whether the connection stays open for another."""
        try:
            request = read_head(self.rfile)
            if request is None:
                return False
            request.body = read_body(self.rfile, self.wfile, request)
        except BadRequest as bad:
            self.wfile.write(response_bytes(bad.status, [], b"", head=False, keep_alive=False))
            return False
        keep_alive = request.keep_alive
        environ = environ_for(request, self.server, self.client_address)
        try:
            status, headers, body = run_app(self.server.app, environ)
        except Exception:
            log.exception("unhandled error serving %s %s", request.method, request.target)
            status, headers, body = "500 Internal Server Error", [], b"Internal Server Error"
            keep_alive = False
        self.wfile.write(
            response_bytes(
                status, headers, body, head=request.method == "HEAD", keep_alive=keep_alive
            )
        )
        return keep_alive


class WSGIServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True  # a connection's thread never holds up shutdown
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024  # bursts of new connections from many Lambda workers

    def __init__(
        self, host: str, port: int, app: WSGIApp, idle_timeout: float = IDLE_TIMEOUT
    ) -> None:
        self.app = app
        self.idle_timeout = idle_timeout
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Close every open connection from this side. Whoever closes first keeps the
        connection's TIME-WAIT: on this side it holds nothing; on a client's side (a Lambda
        worker stopped with the emulator) it would hold that client's ephemeral port for a
        minute, and no server could listen there meanwhile."""
        with self._connections_lock:
            open_now = list(self._connections)
        for sock in open_now:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)

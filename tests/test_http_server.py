"""The emulator's HTTP front: one connection serves many requests, bodies arrive whole
(by length or chunked), and bad or failing requests get an answer and close the connection."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from ordercli.local.http_server import WSGIServer


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("boom")
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    seen = {
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ["QUERY_STRING"],
        "body": body.decode(),
        "port": environ["REMOTE_PORT"],
        "target": environ.get("HTTP_X_AMZ_TARGET"),
        "underscored": environ.get("HTTP_X_SPOOF"),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@pytest.fixture
def server() -> Iterator[WSGIServer]:
    srv = WSGIServer("127.0.0.1", 0, echo_app, idle_timeout=0.6)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def connect(server: WSGIServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)


def ask(conn: http.client.HTTPConnection, method: str, path: str, **kw: Any) -> Any:
    conn.request(method, path, **kw)
    response = conn.getresponse()
    return response, response.read()


def test_one_connection_serves_many_requests(server: WSGIServer) -> None:
    conn = connect(server)
    ports = set()
    for i in range(5):
        response, body = ask(conn, "POST", f"/q%20{i}?a=1", body=f"body {i}")
        seen = json.loads(body)
        assert response.status == 200 and response.getheader("Connection") is None
        assert (seen["path"], seen["query"], seen["body"]) == (f"/q {i}", "a=1", f"body {i}")
        ports.add(seen["port"])
    assert len(ports) == 1  # the same TCP connection each time


def test_chunked_and_expect_continue_bodies_arrive_whole(server: WSGIServer) -> None:
    conn = connect(server)
    _, body = ask(
        conn,
        "PUT",
        "/c",
        body=iter([b"ab", b"cd"]),
        encode_chunked=True,
        headers={"Transfer-Encoding": "chunked"},
    )
    assert json.loads(body)["body"] == "abcd"
    _, body = ask(conn, "POST", "/e", body=b"xyz", headers={"Expect": "100-continue"})
    assert json.loads(body)["body"] == "xyz"


def test_headers_reach_the_app_except_underscored_ones(server: WSGIServer) -> None:
    conn = connect(server)
    _, body = ask(
        conn, "POST", "/", body=b"", headers={"X-Amz-Target": "AWSStepFunctions.X", "X_Spoof": "1"}
    )
    seen = json.loads(body)
    assert seen["target"] == "AWSStepFunctions.X" and seen["underscored"] is None


def test_connection_close_is_honoured(server: WSGIServer) -> None:
    conn = connect(server)
    response, _ = ask(conn, "GET", "/", headers={"Connection": "close"})
    assert response.getheader("Connection") == "close"


def test_an_app_error_is_a_500_not_a_dropped_connection(server: WSGIServer) -> None:
    response, body = ask(connect(server), "GET", "/boom")
    assert response.status == 500 and body == b"Internal Server Error"


def test_a_malformed_request_gets_400_and_the_server_goes_on(server: WSGIServer) -> None:
    with socket.create_connection(server.server_address[:2], timeout=5) as s:
        s.sendall(b"NONSENSE\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")
    response, _ = ask(connect(server), "GET", "/")
    assert response.status == 200


def test_an_idle_connection_is_closed_after_the_idle_timeout(server: WSGIServer) -> None:
    with socket.create_connection(server.server_address[:2], timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        s.settimeout(2)
        assert s.recv(100) == b""  # closed by the server, well before our 2 s


def test_close_connections_ends_open_connections_from_the_server_side(
    server: WSGIServer,
) -> None:
    with socket.create_connection(server.server_address[:2], timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        server.close_connections()
        s.settimeout(0.2)  # well under the idle timeout: the close is not the timeout's
        assert s.recv(100) == b""

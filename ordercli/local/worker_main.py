"""A warm Lambda worker process: imports one handler once, then runs invocations sent over a
pipe, one at a time. Standard library only: it must start fast and owe nothing to the server.

Protocol (both directions): a frame is two 4-byte big-endian lengths, a JSON header, then
a body of raw bytes: the event or the result as the JSON text it already is, so neither is
escaped into, and parsed back out of, a second JSON document (that double encoding was part
of the 0.8-1.0 ms of pipe round trips per order measured in issue 14).
  child  -> {"ready": true}, no body: once, when the handler is imported (or failed to)
  parent -> {"id": request id, "deadline_ms": epoch ms}, body: the event (JSON)
  child  -> {"ok": bool, "logs": [str, ...]}, body: the result or error (JSON)
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import struct
import sys
import time
import traceback
from typing import Any

FRAME = struct.Struct(">II")  # header length, body length


def read_message(fd: int) -> tuple[dict[str, Any], bytes] | None:
    """The next frame's header and body; None once the other end has closed."""
    lengths = _read_exact(fd, FRAME.size)
    if lengths is None:
        return None
    head_size, body_size = FRAME.unpack(lengths)
    data = _read_exact(fd, head_size + body_size)
    if data is None:
        return None
    header: dict[str, Any] = json.loads(data[:head_size])
    return header, data[head_size:]


def write_message(fd: int, header: dict[str, Any], body: bytes = b"") -> None:
    head = json.dumps(header).encode()
    _write_all(fd, FRAME.pack(len(head), len(body)) + head + body)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_exact(fd: int, n: int) -> bytes | None:
    chunks = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


class Context:
    """The subset of Lambda's context object handlers use."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self._deadline_ms = deadline_ms
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.invoked_function_arn = os.environ.get("ORDERCLI_FUNCTION_ARN", "")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class Capture(logging.Handler):
    """Collects log records and print() output of one invocation, in Lambda's line format."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.request_id = ""

    def emit(self, record: logging.LogRecord) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        self.lines.append(
            f"[{record.levelname}]\t{stamp}.{ms:03d}Z\t{self.request_id}\t{record.getMessage()}"
        )


class Stream(io.TextIOBase):
    def __init__(self, capture: Capture) -> None:
        self.capture = capture
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        self.capture.lines.extend(lines)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.capture.lines.append(self.pending)
            self.pending = ""


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
    }


def main() -> None:
    run(int(sys.argv[1]), int(sys.argv[2]))


def run(in_fd: int, out_fd: int) -> None:
    """Serve invocations until the parent closes the request pipe (also the entry point of
    a worker forked by the zygote, with this process's environment already its own)."""
    capture = Capture()
    root = logging.getLogger()
    root.handlers[:] = [capture]
    root.setLevel(logging.INFO)
    # the SDK's own INFO lines ("Found credentials ...") are not the function's
    for sdk in ("boto3", "botocore", "urllib3"):
        logging.getLogger(sdk).setLevel(logging.WARNING)
    sys.stdout = Stream(capture)
    sys.stderr = Stream(capture)
    code_dir, handler_path = os.environ["ORDERCLI_CODE_DIR"], os.environ["_HANDLER"]
    sys.path.insert(0, code_dir)
    handler: Any = None
    import_error: dict[str, Any] | None = None
    try:
        module_name, _, func_name = handler_path.rpartition(".")
        handler = getattr(importlib.import_module(module_name), func_name)
    except Exception as exc:  # reported on every invocation, as Lambda does
        import_error = _error(exc, "Runtime.ImportModuleError")
    write_message(out_fd, {"ready": True})
    while True:
        message = read_message(in_fd)
        if message is None:
            return
        request, event = message
        capture.lines = []
        capture.request_id = request["id"]
        started = time.perf_counter()
        capture.lines.append(f"START RequestId: {request['id']} Version: $LATEST")
        ok = False
        try:
            if import_error is not None:
                payload: Any = import_error
            else:
                result = handler(json.loads(event), Context(request["id"], request["deadline_ms"]))
                payload = result
                ok = True
        except Exception as exc:
            payload = _error(exc)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
            capture.lines.append(
                f"[ERROR]\t{stamp}Z\t{request['id']}\t"
                f"{payload['errorType']}: {payload['errorMessage']}"
            )
        sys.stdout.flush()
        sys.stderr.flush()
        ms = (time.perf_counter() - started) * 1000
        capture.lines.append(f"END RequestId: {request['id']}")
        capture.lines.append(f"REPORT RequestId: {request['id']}\tDuration: {ms:.2f} ms")
        try:
            text = json.dumps(payload)
        except (TypeError, ValueError) as exc:
            ok, text = False, json.dumps(_error(exc, "Runtime.MarshalError"))
        write_message(out_fd, {"ok": ok, "logs": capture.lines}, text.encode())


if __name__ == "__main__":
    main()

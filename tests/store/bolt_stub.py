"""A stand-in Neo4j server that speaks just enough Bolt for the real driver to talk to it.

There is no Neo4j on these machines. This stub lets the adapter run through the official
driver unchanged — connection, HELLO, managed transactions, retries, parameters, chunked
messages — while the test decides what each statement answers and records every statement
with the parameters it came with. It executes no Cypher: correctness of the text is the
linter's job (`tests/cypherlint.py`), correctness of the answers the embedded engine's.

Protocol subset: handshake, then Bolt 5.0 or 4.4 messages HELLO, BEGIN, RUN, PULL, DISCARD,
COMMIT, ROLLBACK, RESET, GOODBYE, with PackStream values; answers may hold nodes,
relationships and paths (`node`, `relationship`, `path`, Bolt 5.0 layout).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_MAGIC = b"\x60\x60\xb0\x17"
_HELLO, _GOODBYE, _RESET, _RUN, _BEGIN, _COMMIT, _ROLLBACK, _DISCARD, _PULL = (
    0x01,
    0x02,
    0x0F,
    0x10,
    0x11,
    0x12,
    0x13,
    0x2F,
    0x3F,
)
_SUCCESS, _RECORD, _IGNORED, _FAILURE = 0x70, 0x71, 0x7E, 0x7F


class Failure(Exception):
    """Raise from a handler to answer a statement with a Neo4j FAILURE message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Answer:
    """What a statement returns: column names and rows of values."""

    fields: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


Handler = Callable[[str, dict[str, Any]], Answer]


@dataclass(frozen=True)
class Struct:
    """A PackStream structure: a signature byte and its fields."""

    signature: int
    fields: tuple[Any, ...]


def node(node_id: int, labels: list[str], properties: dict[str, Any]) -> Struct:
    return Struct(0x4E, (node_id, labels, properties, f"n:{node_id}"))


def relationship(
    rel_id: int, start: int, end: int, rel_type: str, properties: dict[str, Any]
) -> Struct:
    return Struct(
        0x52, (rel_id, start, end, rel_type, properties, f"r:{rel_id}", f"n:{start}", f"n:{end}")
    )


def path(nodes: list[Struct], rels: list[tuple[int, str, dict[str, Any]]]) -> Struct:
    """A path walking `nodes` in order, each hop along one of `rels` (id, type, properties)
    pointing forwards."""
    unbound = [Struct(0x72, (rel_id, kind, props, f"r:{rel_id}")) for rel_id, kind, props in rels]
    indices: list[int] = []
    for hop in range(len(rels)):
        indices += [hop + 1, hop + 1]
    return Struct(0x50, (nodes, unbound, indices))


@dataclass
class Sent:
    """One statement the driver ran, with its parameters and the transaction's mode."""

    query: str
    params: dict[str, Any]
    mode: str
    db: str | None


class BoltStub:
    """Serve Bolt on 127.0.0.1 in a thread; use as a context manager.

    Args:
        handler: Answers each RUN; raise `Failure` to fail it.
        agent: The server string sent in HELLO's SUCCESS (`Neo4j/5.26.0`).
        bolt: The protocol version to pick, (5, 0) or (4, 4).
        hello_failure: Fail HELLO with this (code, message), as a server refusing credentials.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        agent: str = "Neo4j/5.26.0",
        bolt: tuple[int, int] = (5, 0),
        hello_failure: tuple[str, str] | None = None,
    ) -> None:
        self.handler = handler or (lambda query, params: Answer())
        self.agent = agent
        self.bolt = bolt
        self.hello_failure = hello_failure
        self.sent: list[Sent] = []
        self.auth: list[dict[str, Any]] = []
        self.commits = 0
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    def __enter__(self) -> BoltStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        try:
            with conn:
                if _read_exact(conn, 4) != _MAGIC:
                    return
                _read_exact(conn, 16)
                major, minor = self.bolt
                conn.sendall(bytes([0, 0, minor, major]))
                _Session(self, conn).run()
        except (ConnectionError, OSError):
            return


class _Session:
    def __init__(self, stub: BoltStub, conn: socket.socket) -> None:
        self.stub = stub
        self.conn = conn
        self.failed = False
        self.mode = "w"
        self.db: str | None = None
        self.pending: list[list[Any]] = []

    def run(self) -> None:
        while True:
            signature, fields = _unpack_message(_read_message(self.conn))
            if signature == _GOODBYE:
                return
            if signature == _RESET:
                self.failed = False
                self.pending = []
                self.reply(_SUCCESS, {})
                continue
            if self.failed:
                self.reply(_IGNORED)
                continue
            self.handle(signature, fields)

    def handle(self, signature: int, fields: list[Any]) -> None:
        stub = self.stub
        if signature == _HELLO:
            with stub._lock:
                stub.auth.append(dict(fields[0]))
            if stub.hello_failure:
                code, message = stub.hello_failure
                self.fail(code, message)
                return
            self.reply(_SUCCESS, {"server": stub.agent, "connection_id": "bolt-stub"})
        elif signature == _BEGIN:
            extra = fields[0] if fields else {}
            self.mode = extra.get("mode", "w")
            self.db = extra.get("db")
            self.reply(_SUCCESS, {})
        elif signature == _RUN:
            query, params = fields[0], fields[1]
            extra = fields[2] if len(fields) > 2 else {}
            mode = extra.get("mode", self.mode) if extra else self.mode
            db = extra.get("db", self.db) if extra else self.db
            with stub._lock:
                stub.sent.append(Sent(query, dict(params), mode, db))
            try:
                answer = stub.handler(query, dict(params))
            except Failure as failure:
                self.fail(failure.code, failure.message)
                return
            self.pending = list(answer.rows)
            self.reply(_SUCCESS, {"fields": answer.fields, "t_first": 0})
        elif signature in (_PULL, _DISCARD):
            if signature == _PULL:
                for row in self.pending:
                    self.reply(_RECORD, row)
            self.pending = []
            self.reply(_SUCCESS, {"has_more": False, "t_last": 0, "type": self.mode})
        elif signature == _COMMIT:
            with stub._lock:
                stub.commits += 1
            self.reply(_SUCCESS, {"bookmark": f"stub:{stub.commits}"})
        elif signature == _ROLLBACK:
            self.reply(_SUCCESS, {})
        else:
            self.fail("Neo.ClientError.Request.Invalid", f"stub: message 0x{signature:02X}")

    def fail(self, code: str, message: str) -> None:
        self.failed = True
        self.reply(_FAILURE, {"code": code, "message": message})

    def reply(self, signature: int, *fields: Any) -> None:
        body = bytes([0xB0 + len(fields), signature]) + b"".join(_pack(f) for f in fields)
        out = bytearray()
        for start in range(0, len(body), 0xFFFF):
            chunk = body[start : start + 0xFFFF]
            out += struct.pack(">H", len(chunk)) + chunk
        out += b"\x00\x00"
        self.conn.sendall(bytes(out))


def _read_exact(conn: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        part = conn.recv(n - len(data))
        if not part:
            raise ConnectionError("closed")
        data += part
    return bytes(data)


def _read_message(conn: socket.socket) -> bytes:
    message = bytearray()
    while True:
        (size,) = struct.unpack(">H", _read_exact(conn, 2))
        if size == 0:
            if message:
                return bytes(message)
            continue  # a NOOP keep-alive chunk
        message += _read_exact(conn, size)


def _unpack_message(data: bytes) -> tuple[int, list[Any]]:
    marker = data[0]
    if marker & 0xF0 != 0xB0:
        raise ValueError("not a message")
    reader = _Reader(data, 2)
    return data[1], [reader.value() for _ in range(marker & 0x0F)]


class _Reader:
    def __init__(self, data: bytes, pos: int) -> None:
        self.data = data
        self.pos = pos

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def size(self, fmt: str) -> int:
        (n,) = struct.unpack(fmt, self.take(struct.calcsize(fmt)))
        return int(n)

    def value(self) -> Any:
        m = self.take(1)[0]
        if m < 0x80:
            return m
        if m >= 0xF0:
            return m - 0x100
        high = m & 0xF0
        if high == 0x80:
            return self.take(m & 0x0F).decode()
        if high == 0x90:
            return [self.value() for _ in range(m & 0x0F)]
        if high == 0xA0:
            return {self.value(): self.value() for _ in range(m & 0x0F)}
        if high == 0xB0:
            self.take(1)
            return [self.value() for _ in range(m & 0x0F)]
        simple = {0xC0: None, 0xC2: False, 0xC3: True}
        if m in simple:
            return simple[m]
        if m == 0xC1:
            return struct.unpack(">d", self.take(8))[0]
        ints = {0xC8: ">b", 0xC9: ">h", 0xCA: ">i", 0xCB: ">q"}
        if m in ints:
            return self.size(ints[m])
        sizes = {0: ">B", 1: ">H", 2: ">I"}
        if 0xD0 <= m <= 0xD2:
            return self.take(self.size(sizes[m - 0xD0])).decode()
        if 0xD4 <= m <= 0xD6:
            return [self.value() for _ in range(self.size(sizes[m - 0xD4]))]
        if 0xD8 <= m <= 0xDA:
            return {self.value(): self.value() for _ in range(self.size(sizes[m - 0xD8]))}
        if 0xCC <= m <= 0xCE:
            return self.take(self.size(sizes[m - 0xCC]))
        raise ValueError(f"PackStream marker 0x{m:02X} not supported by the stub")


def _pack(value: Any) -> bytes:
    if isinstance(value, Struct):
        head = bytes([0xB0 + len(value.fields), value.signature])
        return head + b"".join(_pack(f) for f in value.fields)
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        if -16 <= value < 128:
            return struct.pack(">b", value) if value < 0 else bytes([value])
        return b"\xcb" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"\xc1" + struct.pack(">d", value)
    if isinstance(value, str):
        data = value.encode()
        return _sized(0x80, 0xD0, len(data)) + data
    if isinstance(value, list | tuple):
        return _sized(0x90, 0xD4, len(value)) + b"".join(_pack(v) for v in value)
    if isinstance(value, dict):
        body = b"".join(_pack(k) + _pack(v) for k, v in value.items())
        return _sized(0xA0, 0xD8, len(value)) + body
    raise TypeError(f"stub cannot pack {type(value).__name__}")


def _sized(tiny: int, base: int, n: int) -> bytes:
    if n < 16:
        return bytes([tiny + n])
    if n < 0x100:
        return bytes([base]) + struct.pack(">B", n)
    if n < 0x10000:
        return bytes([base + 1]) + struct.pack(">H", n)
    return bytes([base + 2]) + struct.pack(">I", n)

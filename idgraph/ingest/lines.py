"""Binary, bounded line reading shared by the readers, and the whole-file checks.

Files are read in binary mode a line at a time with a size cap, so a 10 MB line costs at most
`max_line_bytes` of memory and becomes one reject instead of a crash or a stall.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from idgraph.errors import InputError

#: Default cap on one physical line, in bytes without its line ending.
DEFAULT_MAX_LINE_BYTES = 1 << 20

_SNIFF_BYTES = 8192
_CHUNK = 1 << 20
_WHITESPACE = b" \t\r\n\f\v"


@dataclass(frozen=True, slots=True)
class RawLine:
    """One physical line: its 1-based number, its bytes and its length.

    When `too_long`, `data` holds only the head of the line (enough to show in a reject) and
    `size` the full length; otherwise `data` is the whole line without its line ending.
    """

    number: int
    data: bytes
    size: int
    too_long: bool
    #: Byte offset of the line's start in the file, so a reject can fetch its text later.
    offset: int = 0

    @property
    def blank(self) -> bool:
        """True for an empty or whitespace-only line."""
        return not self.too_long and not self.data.strip(_WHITESPACE)


def _strip_ending(chunk: bytes) -> bytes:
    if chunk.endswith(b"\r\n"):
        return chunk[:-2]
    if chunk.endswith(b"\n"):
        return chunk[:-1]
    return chunk


def read_lines(path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Yield the physical lines of `path`; a final newline does not start another line.

    The file is read in blocks and split on line feeds, so memory stays at a block plus the
    head of one line however long its lines are.

    Args:
        path: the file to read.
        max_line_bytes: lines longer than this (line ending excluded) are yielded with
            `too_long=True` and only their head kept.

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        with path.open("rb") as f:
            yield from _split_blocks(f, max_line_bytes)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc


def _split_blocks(f: BinaryIO, limit: int) -> Iterator[RawLine]:
    keep = min(limit + 2, _SNIFF_BYTES)  # head kept of a line past the limit
    number = 0
    offset = 0  # of the line being assembled
    head = b""  # its first bytes (all of it while it may still fit the limit)
    size = 0  # its length so far
    cr = False  # whether its last byte so far is a carriage return
    while True:
        block = f.read(_CHUNK)
        if not block:
            break
        pieces = block.split(b"\n")
        for piece in pieces[:-1]:
            number += 1
            total = size + len(piece)
            if total <= limit + 1:
                data = head + piece if size else piece
                if data.endswith(b"\r"):
                    data = data[:-1]
                if len(data) > limit:
                    yield RawLine(number, data[:_SNIFF_BYTES], len(data), True, offset)
                else:
                    yield RawLine(number, data, len(data), False, offset)
            else:
                ends_cr = piece.endswith(b"\r") if piece else cr
                if len(head) < keep:
                    head = (head + piece)[:keep]
                yield RawLine(number, head, total - ends_cr, True, offset)
            offset += total + 1
            head, size, cr = b"", 0, False
        rest = pieces[-1]
        if rest:
            if size + len(rest) <= limit + 1:
                head += rest
            elif len(head) < keep:
                head = (head + rest)[:keep]
            size += len(rest)
            cr = rest.endswith(b"\r")
    if size:
        number += 1
        if size > limit:
            yield RawLine(number, head[:keep], size, True, offset)
        else:
            yield RawLine(number, head, size, False, offset)


def check_file(path: Path) -> None:
    """Refuse a file that cannot hold any data line, before anything is read from it.

    Raises:
        InputError: the file is missing, not a regular file, unreadable, empty, whitespace
            only, or binary (a NUL byte in its first 8 KiB).
    """
    if not path.exists():
        raise InputError("file not found", path=path)
    if not path.is_file():
        raise InputError("not a regular file", path=path)
    try:
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
            if not head:
                raise InputError("empty file (0 bytes)", path=path)
            nul = head.find(b"\0")
            if nul >= 0:
                raise InputError(
                    f"binary file (NUL byte at offset {nul}); expected UTF-8 text "
                    "(JSON Lines or CSV)",
                    path=path,
                )
            chunk = head
            while not chunk.strip(_WHITESPACE):
                chunk = f.read(_CHUNK)
                if not chunk:
                    raise InputError("empty file (only whitespace)", path=path)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc


def file_mtime_ms(path: Path) -> int:
    """The file's modification time in epoch milliseconds: the recency of undated rows."""
    return path.stat().st_mtime_ns // 1_000_000


def decode_line(line: RawLine) -> str:
    """Decode a line as UTF-8 (a byte-order mark on line 1 is dropped).

    Raises:
        UnicodeDecodeError: the bytes are not valid UTF-8.
    """
    return line.data.decode("utf-8-sig" if line.number == 1 else "utf-8")


def utf8_problem(exc: UnicodeDecodeError) -> str:
    """The reject reason for a line that is not UTF-8, pointing at the first bad byte."""
    return f"invalid UTF-8 at byte {exc.start + 1}: {exc.reason}"

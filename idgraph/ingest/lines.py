"""Binary, bounded line reading shared by the readers, and the whole-file checks.

Files are read in binary mode a line at a time with a size cap, so a 10 MB line costs at most
`max_line_bytes` of memory and becomes one reject instead of a crash or a stall.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from idgraph.errors import InputError

#: Default cap on one physical line, in bytes without its line ending.
DEFAULT_MAX_LINE_BYTES = 1 << 20

_SNIFF_BYTES = 8192
_CHUNK = 1 << 20
#: Ordinary lines that came one by one, grouped in runs of at most this many.
_RUN_LINES = 4096
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


def read_lines(
    path: Path,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[RawLine]:
    """Yield the physical lines of `path`; a final newline does not start another line.

    The file is read in blocks and split on line feeds, so memory stays at a block plus the
    head of one line however long its lines are.

    Args:
        path: the file to read.
        max_line_bytes: lines longer than this (line ending excluded) are yielded with
            `too_long=True` and only their head kept.
        on_bytes: called with the bytes read so far after each block (progress).

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        with path.open("rb") as f:
            yield from _split_blocks(f, max_line_bytes, on_bytes)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc


def _split_blocks(
    f: BinaryIO,
    limit: int,
    on_bytes: Callable[[int], None] | None = None,
    *,
    runs: bool = False,
) -> Iterator[Any]:
    """`read_lines`' lines; with `runs`, the complete lines of a block that are all ordinary
    (none blank, none past the limit) come as one (number, lines)."""
    keep = min(limit + 2, _SNIFF_BYTES)  # head kept of a line past the limit
    number = 0
    offset = 0  # of the line being assembled
    head = b""  # its first bytes (all of it while it may still fit the limit)
    size = 0  # its length so far
    cr = False  # whether its last byte so far is a carriage return
    seen = 0
    while True:
        block = f.read(_CHUNK)
        if not block:
            break
        if on_bytes is not None:
            seen += len(block)
            on_bytes(seen)
        pieces = block.split(b"\n")
        complete = pieces[:-1]
        run: list[bytes] = []
        if runs and len(complete) > 2:
            run = complete[1:] if size else complete
            if b"\r" in block:
                run = [piece[:-1] if piece.endswith(b"\r") else piece for piece in run]
            if max(map(len, run)) <= limit and all(p.strip(_WHITESPACE) for p in run):
                complete = complete[:1] if size else []
            else:
                run = []
        for piece in complete:
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
        if run:
            yield number + 1, run
            number += len(run)
            offset += len(block) - len(pieces[-1]) - (len(pieces[0]) + 1 if complete else 0)
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
        if cr:  # a carriage return at the very end ends the line, as one before a line feed does
            size -= 1
            head = head[:size]
        if size > limit:
            yield RawLine(number, head[:keep], size, True, offset)
        else:
            yield RawLine(number, head, size, False, offset)


#: A run of ordinary lines (none blank, none past the limit): the first one's number and
#: each line's bytes without its ending.
LineRun = tuple[int, list[bytes]]


def read_line_runs(
    path: Path,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[LineRun | RawLine]:
    """The lines of `path` as `read_lines` yields them, ordinary lines grouped in runs.

    A block whose complete lines are all ordinary is split once and yielded as one run, so
    the caller does not pay for a `RawLine` per line; any other block is yielded line by line
    (blank and too long lines always as `RawLine`). `on_bytes` is `read_lines`'.

    Raises:
        InputError: the file cannot be opened or read.
    """
    try:
        with path.open("rb") as f:
            yield from _runs(f, max_line_bytes, on_bytes)
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc


def _runs(
    f: BinaryIO, limit: int, on_bytes: Callable[[int], None] | None
) -> Iterator[LineRun | RawLine]:
    run: list[bytes] = []  # ordinary lines that came one by one
    first = 0
    for line in _split_blocks(f, limit, on_bytes, runs=True):
        if isinstance(line, RawLine) and not (line.too_long or line.blank):
            if not run:
                first = line.number
            run.append(line.data)
            if len(run) < _RUN_LINES:
                continue
            line = None
        if run:
            yield first, run
            run = []
        if line is not None:
            yield line
    if run:
        yield first, run


#: Leading bytes of binary formats people export by mistake, and what they are.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip data"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx workbook)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls, .doc)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x28\xb5\x2f\xfd", "zstd data"),
    (b"\xfd7zXZ\x00", "xz data"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
)
#: Bytes no text line holds: C0 controls but tab, line feed, form feed, carriage return and
#: escape, and DEL.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\v\f\r\x1b") + b"\x7f"
#: Share of control bytes in a file's head past which it is binary as a whole; below it,
#: a stray binary line is one reject.
_BINARY_SHARE = 0.3


#: Characters an id may not hold (C0 and C1 controls, DEL), as a regex for Polars and `re`.
CONTROL_CHARACTERS = r"[\x00-\x1f\x7f-\x9f]"
#: The reject reason's end for such an id.
CONTROL_IN_ID = "holds a control character (NUL, tab, line break, ...), not allowed in ids"


def check_file(path: Path) -> str | None:
    """Check a file before anything is read from it.

    Returns:
        None for a file to read; otherwise why it holds no line to read: "empty file ..." or
        "binary file ..." (a known binary format, or mostly control bytes). Text with a few
        binary lines is read, each such line becoming a reject.

    Raises:
        InputError: the file is missing, not a regular file or unreadable.
    """
    if not path.exists():
        raise InputError("file not found", path=path)
    if not path.is_file():
        raise InputError("not a regular file", path=path)
    try:
        with path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
            if not head:
                return "empty file (0 bytes)"
            binary = binary_kind(head)
            if binary:
                return f"binary file ({binary}); expected UTF-8 text (JSON Lines or CSV)"
            chunk = head
            while not chunk.strip(_WHITESPACE):
                chunk = f.read(_CHUNK)
                if not chunk:
                    return "empty file (only whitespace)"
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    return None


def binary_kind(head: bytes) -> str | None:
    r"""What binary content the first bytes of a file show, None for text.

    Examples:
        >>> binary_kind(b"\x1f\x8b\x08\x00")
        'gzip data'
        >>> binary_kind(b"id,email\n1,a@b.it\n2,\x00\x00\n")
        >>> binary_kind(bytes(range(16)) * 4)
        '69% of its first 64 bytes are control bytes or not UTF-8'
    """
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    control = len(head) - len(head.translate(None, _CONTROL_BYTES))
    undecodable = head.decode("utf-8", errors="replace").count("\ufffd")
    if control + undecodable > _BINARY_SHARE * len(head):
        share = round(100 * (control + undecodable) / len(head))
        return f"{share}% of its first {len(head)} bytes are control bytes or not UTF-8"
    return None


def nul_problem(data: bytes) -> str | None:
    r"""The reject reason for a line holding a NUL byte (binary data inside a text file).

    Examples:
        >>> nul_problem(b'{"a":\x00}')
        'binary data: NUL byte at byte 6'
    """
    at = data.find(b"\0")
    return None if at < 0 else f"binary data: NUL byte at byte {at + 1}"


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

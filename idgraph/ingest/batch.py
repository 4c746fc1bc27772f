"""Read a run's input files, each into one `SourceBatch`, choosing the reader by suffix.

Every file is checked (readable, mapping found, CSV header complete) before the first one is
read, so such a whole-file problem stops the run before anything is stored. An empty file
is read as one without lines, and a wholly binary one is refused alone: the run goes on with
the other files and its summary names the refused one (`FileCounts.refused`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from idgraph.errors import InputError
from idgraph.ingest.collect import SourceBatch
from idgraph.ingest.csv_table import check_table, read_table
from idgraph.ingest.jsonl_events import read_events
from idgraph.ingest.lines import DEFAULT_MAX_LINE_BYTES, check_file
from idgraph.ingest.mapping import SourceMapping, load_mapping, sidecar_path
from idgraph.ingest.rejects import FileCounts, RejectsWriter
from idgraph.normalize.record import NormalizeOptions
from idgraph.stages import Progress

__all__ = [
    "EVENT_SUFFIXES",
    "TABLE_SUFFIXES",
    "InputPlan",
    "SourceBatch",
    "check_inputs",
    "iter_inputs",
    "read_checked",
    "read_inputs",
]

EVENT_SUFFIXES = (".jsonl", ".ndjson", ".json")
TABLE_SUFFIXES = (".csv",)


@dataclass(frozen=True, slots=True)
class _Plan:
    path: Path
    reader: Literal["events", "table", "none"]
    mapping: SourceMapping
    #: Why a file has no line to read ("empty file ...", "binary file ...").
    note: str | None = None


#: A checked input, ready to read: what `check_inputs` returns and `read_checked` takes.
InputPlan = _Plan


def _given(path: Path, mappings: Mapping[Path, SourceMapping]) -> SourceMapping | None:
    for key, mapping in mappings.items():
        if Path(key).resolve() == path.resolve():
            return mapping
    return None


def _plan(path: Path, mappings: Mapping[Path, SourceMapping], max_line_bytes: int) -> _Plan:
    suffix = path.suffix.lower()
    if suffix not in EVENT_SUFFIXES + TABLE_SUFFIXES:
        accepted = ", ".join(EVENT_SUFFIXES + TABLE_SUFFIXES)
        raise InputError(
            f"unsupported file type {suffix or '(no suffix)'!r}; accepted: {accepted}", path=path
        )
    note = check_file(path)
    sidecar = sidecar_path(path)
    mapping = _given(path, mappings)
    if note is not None:
        if mapping is None and sidecar.is_file():
            mapping = load_mapping(sidecar, stream=suffix in EVENT_SUFFIXES)
        return _Plan(path, "none", mapping or SourceMapping(), note)
    if suffix in EVENT_SUFFIXES:
        if mapping is None:
            mapping = load_mapping(sidecar, stream=True) if sidecar.is_file() else SourceMapping()
        return _Plan(path, "events", mapping)
    if mapping is None:
        if not sidecar.is_file():
            raise InputError(
                f"no mapping found: write {sidecar.name} beside it (which column is the id, "
                "the email, ...; the keys are in docs/mapping.md), start from a guess with "
                f"`idgraph mapping init {path} --write`, or pass one with --mapping CSV=YAML",
                path=path,
            )
        mapping = load_mapping(sidecar)
    check_table(path, mapping, max_line_bytes=max_line_bytes)
    return _Plan(path, "table", mapping)


def check_inputs(
    paths: Sequence[Path],
    *,
    mappings: Mapping[Path, SourceMapping] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> list[_Plan]:
    """Check every input as a whole (readable, mapped, header complete), reading no line.

    `run_ingest` calls this before it opens (or creates) the store, then `read_checked`.

    Raises:
        InputError: a file is unusable as a whole.
        ConfigError: a mapping file is invalid.
    """
    return [_plan(Path(p), mappings or {}, max_line_bytes) for p in paths]


def read_checked(
    plans: Sequence[_Plan],
    *,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    progress: Progress | None = None,
) -> list[SourceBatch]:
    """Read inputs `check_inputs` accepted, one batch per file.

    `progress` gets each reader's calls: ("bytes", read, file size) after each block, then
    ("rows normalized", done, rows); read one plan at a time to tell the files apart.
    """
    return list(_read_all(list(plans), options, rejects, max_line_bytes, progress))


def iter_inputs(
    paths: Sequence[Path],
    *,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    mappings: Mapping[Path, SourceMapping] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[SourceBatch]:
    """Check every input now, then read them one at a time as the batches are consumed.

    Use this rather than `read_inputs` to hold only one file's records in memory at a time.

    Raises:
        InputError: a file is unusable as a whole (raised here, before any batch is read).
        ConfigError: a mapping file is invalid.
    """
    plans = [_plan(Path(p), mappings or {}, max_line_bytes) for p in paths]
    return _read_all(plans, options, rejects, max_line_bytes)


def _read_all(
    plans: list[_Plan],
    options: NormalizeOptions,
    rejects: RejectsWriter,
    max_line_bytes: int,
    progress: Progress | None = None,
) -> Iterator[SourceBatch]:
    for plan in plans:
        if plan.reader == "none":
            note = plan.note or ""
            yield SourceBatch.empty(
                FileCounts(
                    str(plan.path),
                    plan.mapping.source_name(plan.path),
                    note=note,
                    refused=note.startswith("binary"),
                )
            )
        elif plan.reader == "table":
            yield read_table(
                plan.path,
                mapping=plan.mapping,
                options=options,
                rejects=rejects,
                max_line_bytes=max_line_bytes,
                progress=progress,
            )
        else:
            yield read_events(
                plan.path,
                source=plan.mapping.source_name(plan.path),
                options=plan.mapping.options(options),
                rejects=rejects,
                max_line_bytes=max_line_bytes,
                progress=progress,
            )


def read_inputs(
    paths: Sequence[Path],
    *,
    options: NormalizeOptions,
    rejects: RejectsWriter,
    mappings: Mapping[Path, SourceMapping] | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> list[SourceBatch]:
    """Read every input file into its batch of records, events and links.

    Args:
        paths: `.jsonl` / `.ndjson` / `.json` event streams and `.csv` tables.
        options: the run's normalization options.
        rejects: receives every line that is not ingested.
        mappings: explicit mappings by file; otherwise `X.mapping.yaml` beside `X` is used
            (required for CSV, optional for event streams).
        max_line_bytes: longer lines are rejected without being parsed.

    Returns:
        One batch per path, in order; each batch's counts reconcile.

    Raises:
        InputError: a file is missing, unreadable, of an unknown type, has no mapping, or
            lacks a mapped column; nothing has been read when this is raised. (An empty or
            binary file is no error: its batch is empty and its counts say why.)
        ConfigError: a mapping file is invalid (every problem listed).
    """
    return list(
        iter_inputs(
            paths,
            options=options,
            rejects=rejects,
            mappings=mappings,
            max_line_bytes=max_line_bytes,
        )
    )

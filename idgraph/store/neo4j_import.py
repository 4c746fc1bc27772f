"""A store's whole graph as the CSV files `neo4j-admin database import full` loads.

Sending millions of rows to Neo4j as `UNWIND` batches takes hours; Neo4j's offline importer
writes its store files directly from CSV. This module reads an embedded store table by table,
a page of rows at a time, and writes for each node label and relationship type a header file and
a data file, plus `import.sh` with the exact `neo4j-admin` command. The files hold what
`Neo4jStore` writes for the same graph: the same labels, relationship types, property names and
types (a missing value is no property, as Neo4j stores no null).

The format follows Neo4j's operations manual ("Import header format", "Full import"):

- one file group per label (`--nodes=Record=header,data`) and per type
  (`--relationships=MATCHED=header,data`), so rows carry no `:LABEL` or `:TYPE` column;
- the key property is the node ID in an ID space named after the label (`key:ID(Record)`),
  which relationships name (`:START_ID(Customer)`, `:END_ID(Record)`); IDs are strings
  (`--id-type=string`) and are stored as the key property;
- every other property is typed: `string`, `long`, `double`, `boolean`, `string[]`;
- comma delimiter and `"` quotes as RFC 4180 (a quote inside a value is doubled); a null is an
  empty field (no property) and an empty string is `""` (an empty string property);
- array elements are joined with U+001F (`--array-delimiter=U+001F`), a character text does
  not hold; an element that holds it is refused;
- `--multiline-fields=true` is added only when a value holds a line break, since it slows the
  importer down.
"""

from __future__ import annotations

import logging
import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import polars as pl
import pyarrow as pa

from idgraph.errors import ConfigError, StoreError
from idgraph.settings import resolve_store_url
from idgraph.store.ladybug import LadybugStore
from idgraph.store.schema import NODE_TABLES, PRIMARY_KEYS, REL_TABLES, ColumnType

logger = logging.getLogger(__name__)

__all__ = [
    "ARRAY_DELIMITER",
    "NEO4J_TYPES",
    "ImportFile",
    "ImportFiles",
    "export_neo4j_import",
    "node_header",
    "relationship_header",
]

#: Schema column types as the importer's header types (`--normalize-types` keeps them).
NEO4J_TYPES: Final[dict[ColumnType, str]] = {
    "STRING": "string",
    "INT64": "long",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "STRING[]": "string[]",
}
#: Between the elements of an array value; the importer's `--array-delimiter=U+001F`.
ARRAY_DELIMITER: Final = "\x1f"
#: Start nodes per page read from the store: bounds the memory one table takes.
PAGE_ROWS: Final = 250_000
SCRIPT: Final = "import.sh"


@dataclass(frozen=True, slots=True)
class ImportFile:
    """One file group: a node label or a relationship type, its header file and data file."""

    kind: Literal["nodes", "relationships"]
    name: str
    header: Path
    data: Path
    rows: int


@dataclass(slots=True)
class ImportFiles:
    """What `export_neo4j_import` wrote, and the command that loads it."""

    directory: Path
    files: list[ImportFile] = field(default_factory=list)
    #: Data files with a value that spans lines (saved segments' YAML definitions, say).
    multiline_files: list[Path] = field(default_factory=list)

    @property
    def multiline(self) -> bool:
        """Whether the importer needs `--multiline-fields=true` (which slows it down)."""
        return bool(self.multiline_files)

    @property
    def nodes(self) -> int:
        return sum(f.rows for f in self.files if f.kind == "nodes")

    @property
    def relationships(self) -> int:
        return sum(f.rows for f in self.files if f.kind == "relationships")

    @property
    def script(self) -> Path:
        return self.directory / SCRIPT

    def options(self, folder: str) -> list[str]:
        """The importer's options, with the files under `folder` (as neo4j-admin sees them).

        File groups without rows are left out: there is nothing to import from them.
        """
        options = ["--overwrite-destination=true", "--id-type=string"]
        options.append("--array-delimiter=U+001F")
        if self.multiline:
            options.append("--multiline-fields=true")
        for item in self.files:
            if item.rows:
                files = f"{folder}/{item.header.name},{folder}/{item.data.name}"
                options.append(f"--{item.kind}={item.name}={files}")
        return options

    def command(self, *, database: str = "neo4j", admin: str = "neo4j-admin") -> str:
        """The full command line, for files that stay where they were written."""
        folder = str(self.directory.resolve())
        args = [admin, "database", "import", "full", database, *self.options(folder)]
        return " ".join(shlex.quote(a) for a in args)


def node_header(label: str, columns: Mapping[str, ColumnType]) -> list[str]:
    """The header fields of `label`'s node file: the key as the ID of the label's ID space.

    Examples:
        >>> node_header("Meta", {"key": "STRING", "value": "STRING"})
        ['key:ID(Meta)', 'value:string']
    """
    key = PRIMARY_KEYS[label]
    return [
        f"{name}:ID({label})" if name == key else f"{name}:{NEO4J_TYPES[kind]}"
        for name, kind in columns.items()
    ]


def relationship_header(rel: str) -> list[str]:
    """The header fields of `rel`'s relationship file.

    Examples:
        >>> relationship_header("IN_SEGMENT")
        [':START_ID(Customer)', ':END_ID(Segment)', 'since_ts:long']
    """
    src, dst, props = REL_TABLES[rel]
    return [
        f":START_ID({src})",
        f":END_ID({dst})",
        *(f"{name}:{NEO4J_TYPES[kind]}" for name, kind in props.items()),
    ]


def export_neo4j_import(
    directory: Path | str,
    *,
    store: LadybugStore | Path | str | None = None,
    force: bool = False,
    page_rows: int = PAGE_ROWS,
    on_file: Callable[[ImportFile], None] | None = None,
) -> ImportFiles:
    """Write an embedded store's whole graph as `neo4j-admin database import full` files.

    Each table is read a page of `page_rows` start nodes at a time and appended to its data
    file, so memory stays bounded by one page whatever the store's size. `import.sh` in the
    same folder runs the importer with the options these files need.

    Args:
        directory: Where to write; created if missing.
        store: An open embedded store, or its path (default `$IDGRAPH_STORE`, else
            `./idgraph.db`), opened read-only.
        force: Write into a folder that already holds files, replacing those of the same names.
        page_rows: Start nodes per page read from the store.
        on_file: Called after each file group is written (progress).

    Returns:
        The file groups with their row counts, and the files whose values span lines.

    Raises:
        ConfigError: `store` is a Neo4j URL, or the folder holds files and `force` is false.
        StoreUnavailable: there is no store at the path.
        StoreError: the store cannot be read, or a list value holds U+001F.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> folder = Path(tempfile.mkdtemp())
        >>> with LadybugStore(folder / "idgraph.db") as empty:
        ...     files = export_neo4j_import(folder / "import", store=empty)
        >>> files.nodes, files.relationships, files.script.name
        (0, 0, 'import.sh')
    """
    target = Path(directory)
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target} is a file: name a folder for the import files")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"{target} already holds files: name an empty or new folder, or pass --force "
            "(force=True) to replace the files of the same names"
        )
    if isinstance(store, LadybugStore):
        return _export(store, target, page_rows=page_rows, on_file=on_file)
    url = resolve_store_url(store)
    if "://" in url:
        raise ConfigError(
            f"export neo4j-import reads an embedded store (a path), not {url!r}: the files "
            "are for a first load into an empty Neo4j database"
        )
    opened = LadybugStore(url, read_only=True)
    try:
        return _export(opened, target, page_rows=page_rows, on_file=on_file)
    finally:
        opened.close()


def _export(
    store: LadybugStore,
    directory: Path,
    *,
    page_rows: int,
    on_file: Callable[[ImportFile], None] | None,
) -> ImportFiles:
    if page_rows < 1:
        raise ConfigError(f"page_rows must be at least 1, not {page_rows}")
    directory.mkdir(parents=True, exist_ok=True)
    result = ImportFiles(directory=directory)
    groups: list[
        tuple[Literal["nodes", "relationships"], str, list[str], list[ColumnType], str, str]
    ]
    groups = []
    for label in NODE_TABLES:
        columns = _node_columns(store, label)
        statement = store.dialect.page_nodes(label, list(columns))
        groups.append(
            ("nodes", label, node_header(label, columns), list(columns.values()), statement, label)
        )
    for rel, (src, _, props) in REL_TABLES.items():
        types: list[ColumnType] = ["STRING", "STRING", *props.values()]
        statement = store.dialect.page_relationships(rel)
        groups.append(("relationships", rel, relationship_header(rel), types, statement, src))
    for kind, name, header, types, statement, paged_by in groups:
        item, multiline = _write_group(
            store,
            directory,
            kind,
            name,
            header,
            types,
            statement,
            _last_offset(store, paged_by),
            page_rows,
        )
        result.files.append(item)
        if multiline:
            result.multiline_files.append(item.data)
        if on_file is not None:
            on_file(item)
    result.script.write_text(_script(result), encoding="utf-8")
    result.script.chmod(0o755)
    return result


def _node_columns(store: LadybugStore, label: str) -> dict[str, ColumnType]:
    """The schema's columns first, then those added at run time (traits, event properties)."""
    present = store.columns(label)
    key = PRIMARY_KEYS[label]
    if key not in present:
        raise StoreError(f"{store.location}: table {label} has no key column {key!r}")
    fixed = {name: kind for name, kind in NODE_TABLES[label].items() if name in present}
    return {**fixed, **{n: k for n, k in present.items() if n not in fixed}}


def _last_offset(store: LadybugStore, label: str) -> int:
    table = store.query_arrow(f"last_offset:{label}", store.dialect.last_offset(label))
    value = table.column(0)[0].as_py() if table.num_rows else None
    return -1 if value is None else int(value)


def _write_group(
    store: LadybugStore,
    directory: Path,
    kind: Literal["nodes", "relationships"],
    name: str,
    header: list[str],
    types: list[ColumnType],
    statement: str,
    last_offset: int,
    page_rows: int,
) -> tuple[ImportFile, bool]:
    header_path = directory / f"{kind}-{name}.header.csv"
    data_path = directory / f"{kind}-{name}.csv"
    # Names are schema names or allowlisted property keys: nothing in them needs quoting.
    header_path.write_text(",".join(header) + "\n", encoding="utf-8")
    rows, multiline = 0, False
    with data_path.open("wb") as handle:
        for lo in range(0, last_offset + 1, page_rows):
            table = store.query_arrow(
                f"export:{kind}:{name}", statement, {"lo": lo, "hi": lo + page_rows}
            )
            if table.num_rows == 0:
                continue
            frame = _csv_frame(table, types, f"{name}.{{}}", header)
            multiline |= _has_line_break(frame)
            frame.write_csv(handle, include_header=False, quote_style="necessary")
            rows += frame.height
    logger.debug("neo4j import: %s %s, %d rows", kind, name, rows)
    return ImportFile(kind, name, header_path, data_path, rows), multiline


def _csv_frame(
    table: pa.Table, types: list[ColumnType], where: str, header: list[str]
) -> pl.DataFrame:
    """The page's columns as the importer reads them: arrays joined, doubles spelled as Java
    parses them."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    columns: list[pl.Expr] = []
    for column, kind, heading in zip(frame.columns, types, header, strict=True):
        expr = pl.col(column)
        if kind == "STRING[]":
            holds = frame.select(expr.list.eval(pl.element().str.contains(ARRAY_DELIMITER)))
            if holds.to_series().list.any().any():
                raise StoreError(
                    f"{where.format(heading.split(':')[0])}: a list value holds the character "
                    "U+001F, which separates array elements in the import files; remove it "
                    "from the data and ingest again"
                )
            expr = expr.list.join(ARRAY_DELIMITER)
        elif kind == "DOUBLE" and not _finite(frame[column]):
            # Java's Double.parseDouble spells them Infinity, -Infinity and NaN.
            text = expr.cast(pl.Utf8)
            expr = (
                pl.when(expr.is_nan())
                .then(pl.lit("NaN"))
                .when(expr == math.inf)
                .then(pl.lit("Infinity"))
                .when(expr == -math.inf)
                .then(pl.lit("-Infinity"))
                .otherwise(text)
            )
        columns.append(expr.alias(column))
    return frame.select(columns)


def _finite(column: pl.Series) -> bool:
    return bool(column.drop_nulls().is_finite().all())


def _has_line_break(frame: pl.DataFrame) -> bool:
    texts = [c for c, dtype in frame.schema.items() if dtype == pl.Utf8]
    if not texts:
        return False
    found = frame.select(pl.any_horizontal(pl.col(texts).str.contains("[\r\n]").any()))
    return bool(found.item())


def _script(files: ImportFiles) -> str:
    lines = [
        "#!/bin/sh",
        "# Loads the identity graph in this folder into an EMPTY Neo4j 5 database with",
        "# `neo4j-admin database import full` (written by `idgraph export neo4j-import`,",
        f"# {files.nodes} nodes and {files.relationships} relationships).",
        "#",
        "# Stop Neo4j first. The database is REPLACED (--overwrite-destination): any data in it",
        "# is lost. Then start Neo4j and run `idgraph schema apply --store bolt://HOST:7687`",
        "# before anything else: it creates the uniqueness constraints and indexes.",
        "#",
        "# Usage: sh import.sh [DATABASE]          (default: neo4j)",
        "#   NEO4J_ADMIN  the command to run, default `neo4j-admin` (e.g. `bin/neo4j-admin`, or",
        "#                `docker compose run --rm -v $PWD/DIR:/import neo4j neo4j-admin`)",
        "#   IMPORT_DIR   this folder as neo4j-admin sees it (default: this script's folder;",
        "#                /import with the docker example above)",
        *(
            [
                "#",
                "# --multiline-fields=true: values span lines in "
                + ", ".join(p.name for p in files.multiline_files),
            ]
            if files.multiline
            else []
        ),
        "set -eu",
        'DATABASE="${1:-neo4j}"',
        'DIR="${IMPORT_DIR:-$(cd "$(dirname "$0")" && pwd)}"',
        '${NEO4J_ADMIN:-neo4j-admin} database import full "$DATABASE" \\',
    ]
    options = files.options("$DIR")
    for number, option in enumerate(options):
        end = " \\" if number < len(options) - 1 else ""
        lines.append(f'  "{option}"{end}' if "$DIR" in option else f"  {option}{end}")
    return "\n".join(lines) + "\n"

"""The public surface stays small, and importing the query module stays light."""

from __future__ import annotations

import inspect
import subprocess
import sys

import idgraph
import idgraph.explain
import idgraph.models
import idgraph.query

#: The curated surface of `import idgraph`; changing it is a deliberate API change.
TOP_LEVEL = {
    "ConfigError",
    "IdGraphError",
    "IdentityGraph",
    "IngestReport",
    "InputError",
    "NotFoundError",
    "SegmentDefinitionError",
    "StoreError",
    "StoreQueryError",
    "StoreUnavailable",
    "__version__",
    "run_ingest",
}


def test_top_level_all_is_the_curated_surface_and_resolves() -> None:
    assert set(idgraph.__all__) == TOP_LEVEL
    assert len(idgraph.__all__) == len(TOP_LEVEL)
    for name in idgraph.__all__:
        assert getattr(idgraph, name) is not None, name


#: What `idgraph.query` re-exports from the modules that define them: the answers of
#: `IdentityGraph.explain` (`idgraph.explain`) and the values other modules share with it
#: (`idgraph.models`), all importable where the graph is.
RE_EXPORTED = {
    "EvidencePath": idgraph.explain,
    "EvidenceStep": idgraph.explain,
    "Refusal": idgraph.explain,
    "CustomerHistory": idgraph.models,
    "HistoryEntry": idgraph.models,
    "IdentifierView": idgraph.models,
    "RecordView": idgraph.models,
}


def test_query_all_lists_exactly_its_public_classes_and_functions() -> None:
    defined = {
        name
        for name, value in vars(idgraph.query).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == "idgraph.query"
    }
    assert set(idgraph.query.__all__) == defined | set(RE_EXPORTED)
    for name, module in RE_EXPORTED.items():
        assert getattr(idgraph.query, name) is getattr(module, name)


def test_query_import_leaves_cli_and_drivers_out() -> None:
    code = (
        "import sys, idgraph.query; "
        "print(','.join(m for m in ('typer', 'rich', 'neo4j', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

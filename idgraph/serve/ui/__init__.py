"""The web page of `idgraph serve` (`/ui`): search, customers, identity graphs, segments.

`routes.router` is registered by `idgraph.serve.app.build_app`; what the pages ask of the
store is `ops`, run in the process that holds it.
"""

from idgraph.serve.ui.routes import router

__all__ = ["router"]

"""The resolution state kept beside the graph as columns (the mirror), and how runs read it.

`keep_mirror_in_memory(True)` makes a long-lived process (the service) keep the mirror's
tables in memory between runs; see `idgraph.state.cache`.
"""

from idgraph.state.cache import keep_mirror_in_memory

__all__ = ["keep_mirror_in_memory"]

"""The web page through `idgraph serve --workers 2`: the HTTP workers ask the main process,
which holds the store, and answer as one process does."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from idgraph.query import IdentityGraph
from tests.serve.test_ui import ADMIN_KEY, MARIO, REBECCA
from tests.serve.ui_server import ui_server


def test_pages_and_a_link_through_worker_processes(tmp_path: Path) -> None:
    # What this checks is the answers, not their speed: a link re-resolves and writes through
    # the main process, which took over httpx's 5 s default while the suite loaded both CPUs.
    with (
        ui_server(tmp_path, workers=2) as running,
        httpx.Client(base_url=running.url, timeout=30) as http,
    ):
        assert http.post("/ui/signin", data={"key": ADMIN_KEY}).status_code == 303
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', http.get("/ui").text)
        assert csrf is not None
        found = http.get("/ui/search", params={"q": REBECCA})
        customer = re.search(r'href="/ui/customers/(C-[0-9a-f-]+)"', found.text)
        assert customer is not None
        page = http.get(f"/ui/customers/{customer.group(1)}")
        assert page.status_code == 200 and "crm:C1103" in page.text
        edge = http.get("/ui/explain", params={"a": "crm:C1103", "b": "web:user:u-1023"})
        assert edge.json()["same_customer"] is True and edge.json()["steps"]
        assert http.get("/ui/customers/C-nobody").status_code == 404
        size = http.get(
            "/ui/segments/size",
            params={"name": "it", "kind": "trait", "cname": "country", "op": "=", "value": "IT"},
        )
        assert size.json()["count"] > 0
        bad = http.get(
            "/ui/segments/size",
            params={"name": "x", "kind": "trait", "cname": "nope", "op": "=", "value": "1"},
        )
        assert bad.status_code == 400 and "nope" in bad.json()["error"]
        # The preview's segment moves are worked out in the main process; each request may
        # reach another worker, and the ticket still finds them.
        preview = http.post(
            f"/ui/customers/{customer.group(1)}/link", data={"csrf": csrf.group(1), "other": MARIO}
        )
        ticket = re.search(r'data-ticket="([0-9a-f]{32})"', preview.text)
        assert preview.status_code == 200 and ticket is not None
        for _ in range(4):
            moves = http.get(f"/ui/moves/{ticket.group(1)}")
            assert moves.status_code == 200 and 'id="segment-moves"' in moves.text
        linked = http.post(
            f"/ui/customers/{customer.group(1)}/link",
            data={"csrf": csrf.group(1), "other": MARIO, "confirm": "yes"},
        )
        assert linked.status_code == 200 and 'id="undo"' in linked.text
        assert "no customer entered or left" in linked.text or "segment-changes" in linked.text
    with IdentityGraph(store=running.store) as graph:
        assert graph.lookup(MARIO) == graph.lookup(REBECCA)

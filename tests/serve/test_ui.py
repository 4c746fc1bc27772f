"""The `/ui` pages over HTTP: sign-in and cookie, escaping, CSRF, bad input, split/link,
the segment builder — on the fixtures in a real embedded store (no mocks)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from idgraph.query import IdentityGraph
from idgraph.segment.definition import load_segment, parse_segment
from idgraph.segment.saved import run_saved_segment, save_segment
from idgraph.serve import ServeSettings, create_app
from idgraph.settings import open_store
from tests.conftest import FIXTURES, as_of_ms, ingest_fixtures
from tests.serve.conftest import TestClient

READ_KEY = "ui-read-key"
ADMIN_KEY = "ui-admin-key"
ADMIN_ONLY = "ui-admin-only"
REBECCA = "rebeccaserra57@gmail.com"
MARIO = "mario.rossi74@libero.it"


def fixture_store(folder: Path) -> Path:
    """The fixtures ingested, with one saved segment run."""
    path = folder / "idgraph.db"
    ingest_fixtures(path, folder, as_of="2026-11-01")
    with open_store(path) as store:
        save_segment(store, load_segment(FIXTURES / "segments" / "lapsed_high_spenders.yaml"))
        run_saved_segment(store, "lapsed_high_spenders", as_of_ms=as_of_ms())
    return path


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("ui")
    store = open_store(fixture_store(folder))
    settings = ServeSettings(
        api_keys=(READ_KEY, ADMIN_KEY),
        admin_keys=(ADMIN_KEY, ADMIN_ONLY),
        rejects_path=folder / "rejects.jsonl",
    )
    try:
        with TestClient(create_app(store, settings)) as client:
            client.app_state_store = store  # type: ignore[attr-defined]
            yield client
    finally:
        store.close()


def signed_in(client: TestClient, key: str) -> str:
    """Sign `client` in with `key`; the CSRF token of its session."""
    client.cookies.clear()
    answer = client.post("/ui/signin", data={"key": key}, follow_redirects=False)
    assert answer.status_code == 303
    page = client.get("/ui").text
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)


def customer_of(client: TestClient, identifier: str) -> str:
    graph = IdentityGraph.over(client.app_state_store)  # type: ignore[attr-defined]
    (found,) = graph.lookup(identifier)
    return found


def test_without_a_cookie_every_page_is_the_sign_in_page(ui: TestClient) -> None:
    ui.cookies.clear()
    cid = customer_of(ui, REBECCA)
    for path in ("/ui", f"/ui/customers/{cid}", "/ui/segments", "/ui/review", "/ui/search?q=x"):
        answer = ui.get(path)
        assert answer.status_code == 200
        assert 'action="/ui/signin"' in answer.text
        assert REBECCA not in answer.text and cid not in answer.text
    assert ui.get("/ui/explain?a=x&b=y").status_code == 401


def test_a_key_in_the_url_or_a_header_never_signs_in(ui: TestClient) -> None:
    ui.cookies.clear()
    for path in (f"/ui?key={READ_KEY}", f"/ui/search?q={REBECCA}&key={READ_KEY}"):
        answer = ui.get(path)
        assert 'action="/ui/signin"' in answer.text
        assert "set-cookie" not in answer.headers
    answer = ui.get(
        "/ui/search", params={"q": REBECCA}, headers={"Authorization": f"Bearer {READ_KEY}"}
    )
    assert 'action="/ui/signin"' in answer.text
    # The sign-in form reads the key from the body only.
    answer = ui.post(f"/ui/signin?key={READ_KEY}", data={}, follow_redirects=False)
    assert answer.status_code == 401 and "set-cookie" not in answer.headers


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_clears_it(ui: TestClient) -> None:
    ui.cookies.clear()
    answer = ui.post("/ui/signin", data={"key": READ_KEY}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"idgraph_ui={READ_KEY};")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/ui"} <= flags
    page = ui.get("/ui")
    assert 'id="q"' in page.text and "read only" in page.text
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page.text).group(1)  # type: ignore[union-attr]
    assert ui.post("/ui/signout", data={"csrf": "0" * 64}).status_code == 403
    out = ui.post("/ui/signout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303 and 'idgraph_ui=""' in out.headers["set-cookie"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("wrong", "not one of the service&#39;s keys"),
        (ADMIN_ONLY, "does not open reads"),
        ("", "enter a key"),
    ],
)
def test_keys_that_cannot_sign_in_are_told_why(ui: TestClient, key: str, message: str) -> None:
    ui.cookies.clear()
    answer = ui.post("/ui/signin", data={"key": key}, follow_redirects=False)
    assert answer.status_code == 401
    assert message in answer.text
    assert "set-cookie" not in answer.headers


def test_search_finds_by_email_phone_name_and_id(ui: TestClient) -> None:
    signed_in(ui, READ_KEY)
    cid = customer_of(ui, REBECCA)
    for query in (REBECCA, "+39 380 543 9919", "Rebecca Serra", "serra", "crm:C1103"):
        answer = ui.get("/ui/search", params={"q": query})
        assert answer.status_code == 200, query
        assert f"/ui/customers/{cid}" in answer.text, query
    by_id = ui.get("/ui/search", params={"q": cid}, follow_redirects=False)
    assert by_id.status_code == 303 and by_id.headers["location"] == f"/ui/customers/{cid}"
    nobody = ui.get("/ui/search", params={"q": "test@test.com"})
    assert "junk" in nobody.text and "Traceback" not in nobody.text


def test_customer_page_shows_profile_segments_events_and_graph(ui: TestClient) -> None:
    signed_in(ui, READ_KEY)
    graph = IdentityGraph.over(ui.app_state_store)  # type: ignore[attr-defined]
    member = graph.segment_members("lapsed_high_spenders", limit=1).members[0].id
    profile = graph.profile(member)
    page = ui.get(f"/ui/customers/{member}").text
    assert "lapsed_high_spenders" in page
    for record in profile.records:
        assert record.key in page
    for event in profile.events[:3]:
        assert event.name in page
    data = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S)
    assert data is not None
    assert len(re.findall(r'"key":', data.group(1))) == len(profile.records)
    # A read-only key sees no split or link button.
    assert 'id="split-preview"' not in page and 'id="link-form"' not in page


def test_unknown_customer_and_bad_explain_are_messages_not_traces(ui: TestClient) -> None:
    signed_in(ui, READ_KEY)
    answer = ui.get("/ui/customers/C-nobody")
    assert answer.status_code == 404
    assert "no customer with id &#39;C-nobody&#39;" in answer.text
    assert "Traceback" not in answer.text
    explain = ui.get("/ui/explain", params={"a": "crm:nope", "b": "crm:C1103"})
    assert explain.status_code == 404 and "crm:nope" in explain.json()["error"]


def test_values_are_escaped_everywhere(ui: TestClient) -> None:
    signed_in(ui, READ_KEY)
    evil = "<script>alert(1)</script>"
    answer = ui.get("/ui/search", params={"q": evil})
    assert evil not in answer.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    answer = ui.get(f"/ui/customers/{evil}")
    assert evil not in answer.text and answer.status_code == 404


def test_stored_markup_is_escaped_on_the_customer_page(ui: TestClient) -> None:
    """A name sent by a tracker is data: the page shows it, it never runs."""
    evil = '<img src=x onerror="alert(1)">'
    answer = ui.post(
        "/v1/identify",
        params={"wait": "true"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
        json={
            "userId": "xss-1",
            "traits": {
                "email": "ada.evil@mailbox.it",
                "firstName": evil,
                "lastName": "</script>",
                "plan": "<b>gold</b>",
            },
            "timestamp": "2026-10-01T10:00:00Z",
        },
    )
    assert answer.status_code == 200 and answer.json()["resolved"]
    signed_in(ui, READ_KEY)
    cid = customer_of(ui, "ada.evil@mailbox.it")
    page = ui.get(f"/ui/customers/{cid}").text
    lowered = page.lower()
    # Names are stored title-cased (`<Img Src=X ...`): no tag of theirs reaches the page.
    assert "<img" not in lowered and "<b>" not in lowered
    assert "&lt;img src=x" in lowered and "&lt;b&gt;gold&lt;/b&gt;" in page
    graph_json = re.search(r'id="graph-data">(.*?)</script>', page, re.S).group(1)  # type: ignore[union-attr]
    assert "</script" not in graph_json.lower() and "<img" not in graph_json.lower()
    assert "\\u003cImg" in graph_json


def test_changes_need_the_session_token_and_an_admin_key(ui: TestClient) -> None:
    cid = customer_of(ui, REBECCA)
    before = IdentityGraph.over(ui.app_state_store).profile(cid).records  # type: ignore[attr-defined]
    body = {"record": "pos:LC174606", "confirm": "yes"}
    csrf = signed_in(ui, ADMIN_KEY)
    assert ui.post(f"/ui/customers/{cid}/split", data=body).status_code == 403
    assert ui.post(f"/ui/customers/{cid}/split", data={**body, "csrf": "f" * 64}).status_code == 403
    read_csrf = signed_in(ui, READ_KEY)
    assert read_csrf != csrf
    refused = ui.post(f"/ui/customers/{cid}/split", data={**body, "csrf": read_csrf})
    assert refused.status_code == 403 and "admin key" in refused.text
    # A token from another session does not carry over.
    assert ui.post(f"/ui/customers/{cid}/split", data={**body, "csrf": csrf}).status_code == 403
    ui.cookies.clear()
    assert ui.post(f"/ui/customers/{cid}/split", data={**body, "csrf": csrf}).status_code == 401
    after = IdentityGraph.over(ui.app_state_store).profile(cid).records  # type: ignore[attr-defined]
    assert after == before


def test_link_then_undo_goes_through_the_overrides_and_the_history(ui: TestClient) -> None:
    graph = IdentityGraph.over(ui.app_state_store)  # type: ignore[attr-defined]
    rebecca, mario = customer_of(ui, REBECCA), customer_of(ui, MARIO)
    mario_records = [r.key for r in graph.profile(mario).records]
    csrf = signed_in(ui, ADMIN_KEY)
    preview = ui.post(f"/ui/customers/{rebecca}/link", data={"csrf": csrf, "other": MARIO})
    assert preview.status_code == 200
    assert mario in preview.text and " ".join(mario_records) in preview.text.replace(",", "")
    assert graph.lookup(MARIO) == [mario]  # a preview changes nothing
    done = ui.post(
        f"/ui/customers/{rebecca}/link",
        data={"csrf": csrf, "other": MARIO, "confirm": "yes", "reason": "same person"},
    )
    assert done.status_code == 200 and 'id="undo"' in done.text
    assert graph.lookup(MARIO) == graph.lookup(REBECCA)
    survivor = graph.lookup(REBECCA)[0]
    kinds = [e.kind for e in graph.history(survivor).entries]
    assert "absorbed" in kinds
    undo = {"csrf": csrf, "record": mario_records, "reason": "undo", "confirm": "yes"}
    undone = ui.post(f"/ui/customers/{survivor}/split", data=undo)
    assert undone.status_code == 200
    assert graph.lookup(MARIO) != graph.lookup(REBECCA)
    assert "split_off" in [e.kind for e in graph.history(survivor).entries]


def test_split_preview_names_the_records_and_segments_then_splits(ui: TestClient) -> None:
    graph = IdentityGraph.over(ui.app_state_store)  # type: ignore[attr-defined]
    member = graph.segment_members("lapsed_high_spenders", limit=1).members[0].id
    records = [r.key for r in graph.profile(member).records]
    assert len(records) >= 2
    taken = records[-1]
    csrf = signed_in(ui, ADMIN_KEY)
    preview = ui.post(f"/ui/customers/{member}/split", data={"csrf": csrf, "record": taken})
    assert preview.status_code == 200
    assert taken in preview.text and "lapsed_high_spenders" in preview.text
    assert graph.lookup(taken) == [member]
    done = ui.post(
        f"/ui/customers/{member}/split",
        data={"csrf": csrf, "record": taken, "confirm": "yes", "reason": "kiosk"},
    )
    assert done.status_code == 200
    (new_owner,) = graph.lookup(taken)
    assert new_owner != member
    assert new_owner in done.text
    entry = [e for e in graph.history(member).entries if e.kind == "split_off"][-1]
    assert entry.other == new_owner and "kiosk" in entry.detail


def _previewed_moves(ui: TestClient, html: str) -> set[tuple[str, str, str]]:
    """(segment, customer, entered/exited) as the preview page's script loads them."""
    ticket = re.search(r'<div id="moves" data-ticket="([0-9a-f]{32})"', html)
    assert ticket is not None, "the preview starts working out its segment moves"
    fragment = ui.get(f"/ui/moves/{ticket.group(1)}")
    assert fragment.status_code == 200, fragment.text
    listed = re.search(r'<ul id="segment-moves">(.*?)</ul>', fragment.text, re.S)
    assert listed is not None, "the preview lists segment moves"
    found = set()
    for name, body in re.findall(r"<li><strong>([^<]+)</strong>:(.*?)</li>", listed.group(1), re.S):
        for verb, ids in re.findall(r'(enters|leaves) <span class="mono">([^<]*)</span>', body):
            change = "entered" if verb == "enters" else "exited"
            found |= {(name, cid.strip(), change) for cid in ids.split(",")}
    return found


def test_split_and_undo_previews_list_the_segment_moves_they_then_record(ui: TestClient) -> None:
    store = ui.app_state_store  # type: ignore[attr-defined]
    graph = IdentityGraph.over(store)
    defn = {"name": "ui_with_email", "where": {"trait": "email", "op": "exists"}}
    save_segment(store, parse_segment(defn, source="test"))
    run_saved_segment(store, "ui_with_email")
    member = graph.lookup("crm:C1097")[0]
    profile = graph.profile(member)
    taken = next(r.key for r in profile.records if r.fields.get("email"))
    csrf = signed_in(ui, ADMIN_KEY)
    url = f"/ui/customers/{member}"

    def recorded_since(ts: int) -> set[tuple[str, str, str]]:
        rows = store.query(
            "probe_changes",
            "MATCH (s:SegmentChange) WHERE s.ts >= $ts "
            "RETURN s.segment AS segment, s.customer AS customer, s.change AS change",
            {"ts": ts},
        )
        return {(r["segment"], r["customer"], r["change"]) for r in rows}

    preview = ui.post(f"{url}/split", data={"csrf": csrf, "record": taken})
    expected = _previewed_moves(ui, preview.text)
    assert any(seg == "ui_with_email" and ch == "entered" for seg, _, ch in expected)
    assert graph.lookup(taken) == [member]  # the preview changed nothing
    since = int(time.time() * 1000)
    done = ui.post(f"{url}/split", data={"csrf": csrf, "record": taken, "confirm": "yes"})
    assert done.status_code == 200
    assert recorded_since(since) == expected
    (part,) = graph.lookup(taken)
    undo = ui.post(f"{url}/unsplit", data={"csrf": csrf, "other": part})
    assert undo.status_code == 200, undo.text
    expected = _previewed_moves(ui, undo.text)
    assert ("ui_with_email", part, "exited") in expected
    since = int(time.time() * 1000)
    back = ui.post(f"{url}/unsplit", data={"csrf": csrf, "other": part, "confirm": "yes"})
    assert back.status_code == 200 and "Split undone" in back.text
    assert recorded_since(since) == expected
    assert graph.lookup(taken) == [member]


def test_segment_moves_answer_only_an_admin_and_only_a_live_ticket(ui: TestClient) -> None:
    member = IdentityGraph.over(ui.app_state_store).lookup("crm:C1097")[0]  # type: ignore[attr-defined]
    csrf = signed_in(ui, ADMIN_KEY)
    preview = ui.post(f"/ui/customers/{member}/split", data={"csrf": csrf, "record": "crm:C1097"})
    ticket = re.search(r'data-ticket="([0-9a-f]{32})"', preview.text)
    assert ticket is not None
    unknown = ui.get(f"/ui/moves/{'0' * 32}")
    assert unknown.status_code == 404 and "expired" in unknown.text
    assert ui.get(f"/ui/moves/{ticket.group(1)}").status_code == 200
    signed_in(ui, READ_KEY)
    refused = ui.get(f"/ui/moves/{ticket.group(1)}")
    assert refused.status_code == 403 and "segment-moves" not in refused.text


@pytest.mark.parametrize(
    ("query", "row", "named"),
    [
        ({"kind": "trait", "cname": "age", "op": "between", "value": "40"}, 1, "between"),
        ({"kind": "trait", "cname": "shoe_size", "op": "=", "value": "42"}, 1, "shoe_size"),
        ({"kind": "trait", "cname": "Bad Name", "op": "=", "value": "1"}, 1, "not a valid"),
        (
            {
                "kind": "event",
                "cname": "Order Completed",
                "op": ">=",
                "value": "2",
                "window": "soon",
            },
            1,
            "within",
        ),
    ],
)
def test_an_invalid_condition_names_its_row_and_field(
    ui: TestClient, query: dict[str, str], row: int, named: str
) -> None:
    signed_in(ui, READ_KEY)
    answer = ui.get("/ui/segments/new", params={"name": "probe", "preview": "1", **query})
    assert answer.status_code == 400
    problem = re.search(r'<p class="problem" id="problem">(.*?)</p>', answer.text, re.S)
    assert problem is not None
    assert problem.group(1).startswith(f"Condition {row}:")
    assert named in problem.group(1)
    assert "Traceback" not in answer.text
    live = ui.get("/ui/segments/size", params={"name": "probe", **query})
    assert live.status_code == 400 and named in live.json()["error"]


def test_builder_size_matches_an_independent_count_and_saving_runs_it(ui: TestClient) -> None:
    store = ui.app_state_store  # type: ignore[attr-defined]
    expected = store.query(
        "count_it", "MATCH (c:Customer) WHERE c.country = $c RETURN count(c) AS n", {"c": "IT"}
    )[0]["n"]
    assert expected > 0
    csrf = signed_in(ui, ADMIN_KEY)
    form = {"name": "italians", "kind": "trait", "cname": "country", "op": "=", "value": "IT"}
    answer = ui.get("/ui/segments/new", params={**form, "preview": "1"})
    assert answer.status_code == 200
    assert f'<span id="size">{expected}</span>' in answer.text
    assert ui.get("/ui/segments/size", params=form).json() == {"count": expected}
    saved = ui.post("/ui/segments/save", data={**form, "csrf": csrf})
    assert saved.status_code == 200
    assert f'<strong id="saved-size">{expected}</strong>' in saved.text
    graph = IdentityGraph.over(store)
    assert graph.segment_members("italians", limit=1).total == expected
    overview = ui.get("/ui/segments").text
    assert 'id="italians"' in overview and "lapsed_high_spenders" in overview


def test_review_queue_answers_and_lists_doubtful_customers(ui: TestClient) -> None:
    signed_in(ui, READ_KEY)
    expected = IdentityGraph.over(ui.app_state_store).review(limit=100)  # type: ignore[attr-defined]
    assert expected
    for _ in range(100):
        page = ui.get("/ui/review").text
        if 'id="review"' in page:
            break
    assert f"/ui/customers/{expected[0].customer_id}" in page


def test_static_files_are_served_and_nothing_else(ui: TestClient) -> None:
    assert "drawGraph" in ui.get("/ui/static/ui.js").text
    assert ui.get("/ui/static/ui.css").status_code == 200
    assert ui.get("/ui/static/..%2Fops.py").status_code == 404
    assert ui.get("/ui/static/ops.py").status_code == 404


def test_a_form_posted_from_another_site_is_refused(ui: TestClient) -> None:
    ui.cookies.clear()
    evil = {"Origin": "http://evil.example"}
    answer = ui.post("/ui/signin", data={"key": READ_KEY}, headers=evil, follow_redirects=False)
    assert answer.status_code == 403 and "set-cookie" not in answer.headers
    csrf = signed_in(ui, ADMIN_KEY)
    cid = customer_of(ui, REBECCA)
    body = {"csrf": csrf, "record": "pos:LC174606", "confirm": "yes"}
    assert ui.post(f"/ui/customers/{cid}/split", data=body, headers=evil).status_code == 403
    assert customer_of(ui, "pos:LC174606") == cid
    same = {"Origin": "http://testserver"}
    preview = ui.post(
        f"/ui/customers/{cid}/split", data={"csrf": csrf, "record": "pos:LC174606"}, headers=same
    )
    assert preview.status_code == 200 and 'id="taken"' in preview.text


def test_without_auth_everyone_reads_and_changes_still_need_an_admin_key(
    tmp_path: Path,
) -> None:
    store = open_store(fixture_store(tmp_path))
    settings = ServeSettings(auth=False, admin_keys=(ADMIN_KEY,), rejects_path=tmp_path / "r.jsonl")
    try:
        with TestClient(create_app(store, settings)) as client:
            cid = IdentityGraph.over(store).lookup(REBECCA)[0]
            page = client.get(f"/ui/customers/{cid}")
            assert page.status_code == 200 and "crm:C1103" in page.text
            assert 'id="split-preview"' not in page.text
            refused = client.post(f"/ui/customers/{cid}/split", data={"record": "crm:C1103"})
            assert refused.status_code == 401
            assert client.post("/ui/signin", data={"key": "guess"}).status_code == 401
            assert client.post("/ui/signin", data={"key": ADMIN_KEY}).status_code == 200
            assert 'id="split-preview"' in client.get(f"/ui/customers/{cid}").text
    finally:
        store.close()

"""API keys: Segment's Basic (key as user name), Bearer, constant-time checks, clear 401s."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from idgraph.cli import app
from idgraph.errors import ConfigError
from idgraph.serve import ServeSettings, api_keys_from_env
from idgraph.serve.auth import key_matches, presented_key
from idgraph.serve.settings import check_auth_setup, is_loopback
from tests.serve.conftest import KEY, OTHER_KEY, TS, Served, basic

GOOD = [
    {"Authorization": f"Bearer {KEY}"},
    {"Authorization": f"bearer {OTHER_KEY}"},
    basic(KEY),
    basic(OTHER_KEY, "ignored-password"),
]
BAD = [
    ({}, "missing API key"),
    ({"Authorization": "Bearer nope"}, "invalid API key"),
    ({"Authorization": f"Bearer {KEY}x"}, "invalid API key"),
    (basic("nope"), "invalid API key"),
    (basic(""), "unreadable Authorization header"),
    ({"Authorization": "Basic %%%"}, "unreadable Authorization header"),
    ({"Authorization": f"Token {KEY}"}, "unreadable Authorization header"),
]
ENDPOINTS = [
    ("POST", "/v1/identify"),
    ("POST", "/v1/batch"),
    ("GET", "/v1/lookup?identifier=x"),
    ("GET", "/v1/customers/C-1"),
    ("GET", "/v1/segments/s/members"),
    ("GET", "/v1/explain?a=x&b=y"),
    ("GET", "/v1/stats"),
]


@pytest.mark.parametrize("headers", GOOD, ids=["bearer", "bearer-lower", "basic", "basic-pw"])
def test_valid_keys_are_accepted(served: Served, headers: dict[str, str]) -> None:
    body = {"userId": f"auth-{headers['Authorization'][-6:]}", "timestamp": TS}
    response = served.client.post("/v1/identify", json=body, headers=headers)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("headers", "message"), BAD)
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_or_wrong_keys_get_401(
    served: Served, headers: dict[str, str], message: str, method: str, path: str
) -> None:
    response = served.client.request(method, path, json={"userId": "x"}, headers=headers)
    assert response.status_code == 401
    assert message in response.json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_a_refused_request_stores_nothing(served: Served) -> None:
    before = served.get("/v1/stats").json()["received"]
    served.client.post("/v1/identify", json={"userId": "intruder", "timestamp": TS})
    assert served.get("/v1/stats").json()["received"] == before
    assert served.graph.lookup("intruder") == []


@pytest.mark.parametrize("path", ["/health", "/docs", "/openapi.json"])
def test_health_and_docs_need_no_key(served: Served, path: str) -> None:
    assert served.client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer abc", "abc"),
        ("Bearer   abc  ", "abc"),
        ("Basic YWJjOg==", "abc"),
        ("Basic YWJjOnB3", "abc"),
        ("Basic YWJj", "abc"),
        ("Basic !!", None),
        ("Bearer", None),
        ("", None),
        (None, None),
    ],
)
def test_presented_key(header: str | None, key: str | None) -> None:
    assert presented_key(header) == key


@pytest.mark.parametrize(
    ("key", "keys", "ok"),
    [("a", ("a", "b"), True), ("b", ("a", "b"), True), ("c", ("a", "b"), False), ("a", (), False)],
)
def test_key_matches(key: str, keys: tuple[str, ...], ok: bool) -> None:
    assert key_matches(key, keys) is ok


@pytest.mark.parametrize(
    ("env", "keys"),
    [("", ()), ("k1", ("k1",)), (" k1 , k2,,", ("k1", "k2"))],
)
def test_keys_come_from_the_environment(env: str, keys: tuple[str, ...]) -> None:
    assert api_keys_from_env({"IDGRAPH_API_KEYS": env}) == keys


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("127.5.0.1", True),
        ("0.0.0.0", False),
        ("10.0.0.2", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("settings", "host", "message"),
    [
        (ServeSettings(), "127.0.0.1", "no API keys"),
        (ServeSettings(auth=False), "0.0.0.0", "only on a loopback host"),
    ],
)
def test_unsafe_setups_refused(settings: ServeSettings, host: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_auth_setup(settings, host)


@pytest.mark.parametrize(
    "settings",
    [ServeSettings(api_keys=("k",)), ServeSettings(auth=False), ServeSettings(api_keys=("k",))],
)
def test_safe_setups_pass(settings: ServeSettings) -> None:
    check_auth_setup(settings, "127.0.0.1")


@pytest.mark.parametrize(
    ("args", "message"),
    [([], "no API keys"), (["--no-auth", "--host", "0.0.0.0"], "loopback")],
)
def test_cli_refuses_to_start(
    args: list[str], message: str, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IDGRAPH_API_KEYS", raising=False)
    result = CliRunner().invoke(app, ["serve", "--store", f"{tmp_path}/s.db", *args])
    assert result.exit_code == 2
    assert message in result.output

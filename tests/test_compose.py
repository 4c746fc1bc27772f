"""docker-compose.yml and .env.example keep their promises without Docker to run them.

No Docker daemon here, so the compose file is read as YAML and checked point by point: Neo4j 5
Community pinned, ports on 127.0.0.1 only, data in a named volume, a healthcheck that queries
the server, laptop-sized memory, no plugins, and the password only ever from `.env`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICE: dict[str, Any] = COMPOSE["services"]["neo4j"]
ENV_EXAMPLE = ROOT / ".env.example"
ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=([^\s'\"$`\\]+)$")
#: What the Neo4j image accepts in NEO4J_AUTH (docker-entrypoint.sh): neo4j/<8+ chars, no "/">.
IMAGE_AUTH = re.compile(r"^neo4j/([^/]{8,})$")


def _environment() -> dict[str, str]:
    env = SERVICE.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _ports() -> list[tuple[str, int, int]]:
    """(host ip, published, target) for each port, short or long syntax."""
    found = []
    for port in SERVICE.get("ports") or []:
        if isinstance(port, dict):
            found.append((str(port.get("host_ip", "")), int(port["published"]), port["target"]))
        else:
            parts = str(port).split(":")
            host = parts[0] if len(parts) == 3 else ""
            found.append((host, int(parts[-2]), int(parts[-1])))
    return found


def _mounts() -> dict[str, tuple[str, str]]:
    """Container path -> (type, source) for each volume, short or long syntax."""
    mounts = {}
    for volume in SERVICE.get("volumes") or []:
        if isinstance(volume, dict):
            mounts[volume["target"]] = (volume.get("type", "volume"), str(volume.get("source")))
        else:
            source, target = str(volume).split(":")[:2]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            mounts[target] = (kind, source)
    return mounts


def _strings(node: Any) -> list[str]:
    """Every key and scalar value in the parsed compose file (comments are not config)."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [str(node)] if node is not None else []


def _bytes(size: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", size.strip().lower())
    assert match, f"not a Neo4j memory size: {size!r}"
    scale = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]
    return int(match.group(1)) * scale


def _env_example() -> dict[str, str]:
    values = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.match(line)
        assert match, f".env.example:{number}: not a plain KEY=value line: {line!r}"
        values[match.group(1)] = match.group(2)
    return values


def test_image_is_neo4j_5_26_community_pinned() -> None:
    assert re.fullmatch(r"neo4j:5\.26(\.\d+)?-community", SERVICE["image"]), SERVICE["image"]


def test_ports_are_browser_and_bolt_on_localhost_only() -> None:
    ports = _ports()
    assert sorted((published, target) for _, published, target in ports) == [
        (7474, 7474),
        (7687, 7687),
    ]
    assert {host for host, _, _ in ports} == {"127.0.0.1"}, "publish on 127.0.0.1 only"


@pytest.mark.parametrize("path", ["/data", "/logs"])
def test_data_and_logs_live_in_named_volumes(path: str) -> None:
    kind, source = _mounts()[path]
    assert kind == "volume"
    assert source in (COMPOSE.get("volumes") or {}), f"{source} is not a declared named volume"


def test_restarts_unless_stopped() -> None:
    assert SERVICE.get("restart") == "unless-stopped"


def test_healthcheck_queries_the_server_with_tools_the_image_has() -> None:
    check = SERVICE["healthcheck"]
    assert not check.get("disable")
    test = check["test"]
    assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), test
    command = " ".join(test[1:])
    assert "curl" not in command, "the neo4j image has no curl"
    assert re.search(r"\b(wget|cypher-shell)\b", command)
    assert "7474" in command or "7687" in command
    assert "RETURN 1" in command, "healthy should mean it answers a query, not just listens"
    assert re.search(r"(?<!\$)\$\{?NEO4J_AUTH", command) is None, (
        "write $$NEO4J_AUTH: a single $ makes compose paste the password into the config"
    )
    assert {"interval", "timeout", "retries", "start_period"} <= set(check)


def test_password_only_from_the_environment() -> None:
    value = _environment()["NEO4J_AUTH"]
    assert re.fullmatch(r"\$\{NEO4J_AUTH:\?[^}]+\}", value), (
        "NEO4J_AUTH must be ${NEO4J_AUTH:?message} so a missing .env fails loudly"
    )
    literal = [
        s
        for s in _strings(COMPOSE)
        if re.search(r"(?<![/\w])neo4j/[^\s\"'$}/]", s)
        or re.search(r"(--password[= ]|\s-p\s+)(?![\"']?\$)", s)
    ]
    assert not literal, f"a literal user/password: {literal}"
    example = IMAGE_AUTH.match(_env_example()["NEO4J_AUTH"])
    assert example and example.group(1) not in COMPOSE_TEXT
    assert "PASSWORD" not in "".join(_environment())


def test_memory_fits_a_laptop() -> None:
    env = _environment()
    heap_initial = _bytes(env["NEO4J_server_memory_heap_initial__size"])
    heap_max = _bytes(env["NEO4J_server_memory_heap_max__size"])
    page_cache = _bytes(env["NEO4J_server_memory_pagecache_size"])
    assert 512 * 1024**2 <= heap_initial <= heap_max <= 2 * 1024**3
    assert 256 * 1024**2 <= page_cache <= 1024**3


def test_no_plugins() -> None:
    env = _environment()
    assert "NEO4J_PLUGINS" not in env
    assert not any("apoc" in f"{k}={v}".lower() for k, v in env.items())


def test_env_example_is_plain_key_value_lines() -> None:
    values = _env_example()
    assert {"NEO4J_AUTH", "IDGRAPH_STORE"} <= set(values)
    password = IMAGE_AUTH.match(values["NEO4J_AUTH"])
    assert password and password.group(1) != "neo4j", "the image refuses this NEO4J_AUTH"
    assert values["IDGRAPH_STORE"] == "bolt://localhost:7687"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_env_example_sources_in_a_shell_to_the_same_values() -> None:
    script = f"set -a; . '{ENV_EXAMPLE}'; set +a; env -0"
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={}, check=True)
    exported = dict(item.split("=", 1) for item in run.stdout.split("\0") if "=" in item)
    for key, value in _env_example().items():
        assert exported.get(key) == value, key


def _ignored(path: str) -> bool:
    run = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=ROOT, check=False)
    assert run.returncode in (0, 1), "git check-ignore failed"
    return run.returncode == 0


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout"
)
@pytest.mark.parametrize(
    ("path", "ignored"), [(".env", True), (".env.local", True), (".env.example", False)]
)
def test_env_files_are_ignored_but_not_the_template(path: str, ignored: bool) -> None:
    assert _ignored(path) is ignored


def test_docs_ingest_the_makefile_demo_fixtures_into_neo4j() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    fixtures = re.search(r"^FIXTURES := (.+)$", makefile, re.MULTILINE)
    assert fixtures, "the Makefile no longer defines FIXTURES"
    demo = re.search(r"^\t\$\(BIN\)/idgraph ingest \$\(FIXTURES\) (.+)$", makefile, re.MULTILINE)
    assert demo, "the Makefile demo no longer ingests $(FIXTURES)"
    as_of = re.search(r"^AS_OF \?= (.+)$", makefile, re.MULTILINE)
    assert as_of, "the Makefile no longer defines AS_OF"
    options = demo.group(1).replace("$(AS_OF)", as_of.group(1))
    doc = (ROOT / "docs" / "neo4j.md").read_text(encoding="utf-8")
    command = f"idgraph ingest {fixtures.group(1)} {options} --store bolt://localhost:7687"
    assert command in doc

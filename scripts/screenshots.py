"""Regenerate the screenshots in docs/images/ from the fixtures (`make screenshots`).

The pictures in the README and docs show what a fresh clone makes: the fixtures ingested into a
temporary store, the fixture segment run, `idgraph report` written, `idgraph serve` started
on a free port, and the system's Chromium (as in the browser tests) driven through the report
and the web page. Nothing outside the package registries is needed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from idgraph.normalize.record import NormalizeOptions  # noqa: E402
from idgraph.pipeline import run_ingest  # noqa: E402
from idgraph.segment.definition import load_segment  # noqa: E402
from idgraph.segment.saved import run_saved_segment, save_segment  # noqa: E402
from idgraph.settings import open_store  # noqa: E402

FIXTURES = ROOT / "fixtures"
#: Relative to the checkout (the report shows the paths as given).
INPUTS = [Path("fixtures") / n for n in ("crm.csv", "pos.csv", "web.jsonl", "email.jsonl")]
AS_OF = "2026-11-01"
KEY = "screenshots-key"
#: A customer of the fixtures with records from several sources.
CUSTOMER_EMAIL = "rebeccaserra57@gmail.com"


def as_of_ms() -> int:
    return int(datetime.fromisoformat(AS_OF).replace(tzinfo=UTC).timestamp() * 1000)


def build_store(folder: Path) -> Path:
    store = folder / "idgraph.db"
    run_ingest(
        INPUTS,
        store=store,
        options=NormalizeOptions(default_region="IT"),
        rejects_path=folder / "rejects.jsonl",
        as_of_ms=as_of_ms(),
    )
    with open_store(store) as graph:
        save_segment(graph, load_segment(FIXTURES / "segments" / "lapsed_high_spenders.yaml"))
        run_saved_segment(graph, "lapsed_high_spenders", as_of_ms=as_of_ms())
    return store


def chromium() -> str:
    named = os.environ.get("IDGRAPH_CHROMIUM")
    found = named or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise SystemExit("screenshots need Chromium: run `make browser` or set IDGRAPH_CHROMIUM")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(store: Path, folder: Path) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "IDGRAPH_API_KEYS": KEY, "IDGRAPH_ADMIN_KEYS": KEY}
    command = [
        sys.executable,
        *("-m", "idgraph", "serve", "--port", str(port), "--store", str(store)),
        *("--rejects", str(folder / "serve-rejects.jsonl"), "--log-level", "warning"),
    ]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit("idgraph serve stopped before it answered")
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("idgraph serve did not answer within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def shoot(page: Page, out: Path, name: str, *, full: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def report_pictures(page: Page, report: Path, out: Path) -> None:
    page.goto(report.as_uri())
    page.wait_for_selector("svg, canvas")
    shoot(page, out, "report")
    # The section bar sticks to the top of the window; out of the way for pictures of one part.
    page.add_style_tag(content="nav { position: static !important; }")
    for section in ("links", "model", "doubtful"):
        page.locator(f"#{section}").scroll_into_view_if_needed()
        path = out / f"report-{section}.png"
        page.locator(f"#{section}").screenshot(path=str(path))
        print(f"wrote {path}")


def ui_pictures(page: Page, url: str, out: Path) -> None:
    page.goto(f"{url}/ui")
    shoot(page, out, "ui-signin")
    page.fill("#key", KEY)
    page.click("button[type=submit]")
    page.wait_for_selector("#q")
    page.fill("#q", CUSTOMER_EMAIL)
    page.press("#q", "Enter")
    page.locator("#results a").first.click()
    page.wait_for_selector("#customer-id")
    page.wait_for_selector("svg")
    shoot(page, out, "ui-customer", full=True)
    page.goto(f"{url}/ui/segments")
    shoot(page, out, "ui-segments")
    page.goto(f"{url}/ui/segments/new")
    shoot(page, out, "ui-segment-builder")
    page.goto(f"{url}/ui/review")
    shoot(page, out, "ui-review")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="idgraph-shots-") as tmp:
        folder = Path(tmp)
        store = build_store(folder)
        report = folder / "run.html"
        subprocess.run(
            [sys.executable, "-m", "idgraph", "report", "-o", str(report), "--store", str(store)],
            check=True,
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium(),
                headless=True,
                args=["--no-sandbox", "--disable-dev-shm-usage"],
            )
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            report_pictures(page, report, args.out)
            with serving(store, folder) as url:
                ui_pictures(page, url, args.out)
            browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

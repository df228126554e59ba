"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): the charts
hold one point per batch, the histograms count every batch, the batch table fills and the
page follows new batches; nothing is fetched from anywhere but the daemon.

Needs /usr/bin/chromium: scripts/install-browser.sh installs it.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

from dstream.service.http_server import HttpServer
from dstream.service.settings import HttpAddress

from .conftest import START_MS, running_job

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--disable-extensions", "--disable-sync",
                 "--no-first-run", "--disable-component-update", "--disable-default-apps"]
TOKEN = "browser-token"
#: records and simulated processing time (ms, the manual clock moves while a batch runs) per batch
BATCHES = [(12, 120), (30, 340), (5, 80), (44, 520), (21, 260), (0, 40), (37, 410), (18, 150)]
CHARTS = ["input-rate", "scheduling-delay", "processing-time", "total-delay"]


def simulate_work(ssc) -> None:
    pending: list[int] = []

    def work(rdd) -> None:
        if pending:
            ssc._clock.advance(pending.pop(0))
    ssc.queueStream([]).foreachRDD(work)
    simulate_work.pending = pending  # type: ignore[attr-defined]


def count_points(page, chart: str) -> int:
    return page.locator(f"#timeline-{chart} circle.point").count()


def test_dashboard_charts_and_tables_fill_and_follow_batches(tmp_path: Path) -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/install-browser.sh"
    with running_job(tmp_path, token=TOKEN, refresh_ms=200, extra=simulate_work) as r:
        pending = simulate_work.pending  # type: ignore[attr-defined]
        for records, work_ms in BATCHES:
            pending.append(work_ms)
            r.batch([f"w{i}" for i in range(records)])
        server = HttpServer(HttpAddress("127.0.0.1", 0))
        server.start(r.app)
        base = server.url
        outside: list[str] = []
        problems: list[str] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 1500})
                    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                    page.on("pageerror", lambda e: problems.append(str(e)))

                    def only_the_daemon(route) -> None:
                        if route.request.url.startswith(base + "/"):
                            route.continue_()
                        else:
                            outside.append(route.request.url)
                            route.abort()
                    page.route("**/*", only_the_daemon)

                    page.goto(f"{base}/?token={TOKEN}")         # sets the session cookie
                    assert page.url == base + "/"
                    n = len(BATCHES)
                    page.wait_for_function(
                        "n => document.querySelectorAll('#timeline-input-rate circle.point').length === n", arg=n)
                    for chart in CHARTS:
                        assert count_points(page, chart) == n, chart
                        bars = page.locator(f"#histogram-{chart} rect.bar")
                        counts = [int(bars.nth(i).get_attribute("data-count")) for i in range(bars.count())]
                        assert sum(counts) == n, (chart, counts)
                    rates = page.locator("#timeline-input-rate circle.point")
                    assert [float(rates.nth(i).get_attribute("data-value")) for i in range(n)] == \
                        [float(records) for records, _ in BATCHES]
                    work = page.locator("#timeline-processing-time circle.point")
                    assert [float(work.nth(i).get_attribute("data-value")) for i in range(n)] == \
                        [float(ms) for _, ms in BATCHES]
                    rows = page.locator("#completed-batches tbody tr")
                    assert rows.count() == n
                    assert rows.first.get_attribute("data-batch-id") == str(START_MS + 1000 * n)
                    assert page.text_content("#completed-count") == str(n)
                    assert page.text_content("#active-batches tbody") == "no batch is queued or processing"
                    assert page.text_content("#receiver-count") == "1"
                    assert page.get_attribute("#status", "data-state") == "live"
                    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

                    pending.append(300)                       # one more batch: the page follows
                    r.batch(["late"] * 25)
                    page.wait_for_function(
                        "n => document.querySelectorAll('#completed-batches tbody tr').length === n", arg=n + 1)
                    for chart in CHARTS:
                        assert count_points(page, chart) == n + 1, chart
                    page.screenshot(path=str(tmp_path / "dashboard-after.png"), full_page=True)
                finally:
                    browser.close()
        finally:
            assert server.stop(10)
    assert outside == [], "the dashboard asked for something outside the daemon"
    assert problems == []

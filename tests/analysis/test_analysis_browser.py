"""report.html in a real browser: Debian's chromium, headless, driven by selenium and /usr/bin/chromedriver.

The report is served from 127.0.0.1 by this test (as a user's browser would open it from a shared
folder); the page must show every image, at the content's full width, no browser error, and each
run link must lead to a page that loads. Skipped only on a developer machine without chromium; in
CI (CI=true) a missing browser fails the test — .ci/run installs it.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import urllib.request
from pathlib import Path

import pytest

from crescendo.analysis import load, write_report

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1280,1000"]


@pytest.fixture
def browser(tmp_path):
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not path]
    if missing:
        message = f"{' and '.join(missing)} not installed (apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} — CI must have them: .ci/run installs them")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def served(tmp_path):
    """Serve a directory over http://127.0.0.1:<free port>/ for the length of the test."""
    servers = []

    def _serve(root: Path) -> str:
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield _serve
    for server in servers:
        server.shutdown()
        server.server_close()


_BROKEN_IMAGES = """
return Array.from(document.images)
    .filter(img => !img.complete || img.naturalWidth === 0)
    .map(img => img.getAttribute('src'));
"""
_NARROW_IMAGES = """
return Array.from(document.images)
    .filter(img => img.getBoundingClientRect().width < 0.95 * img.parentElement.getBoundingClientRect().width)
    .map(img => img.getAttribute('src'));
"""


def _check_page(driver, url: str, heading: str, min_images: int) -> None:
    driver.get(url)
    body = driver.find_element("tag name", "body").text
    assert driver.find_element("tag name", "h1").text.startswith(heading), body[:300]
    assert "ERR_" not in body and "can’t be reached" not in body
    images = driver.execute_script("return document.images.length")
    assert images >= min_images, f"{url} shows {images} images"
    assert driver.execute_script(_BROKEN_IMAGES) == [], f"{url}: images that did not load"
    assert driver.execute_script(_NARROW_IMAGES) == [], f"{url}: images narrower than the page's content"
    errors = [entry["message"] for entry in driver.get_log("browser")
              if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]]
    assert errors == [], errors


def test_a_search_report_shows_every_image_and_its_run_links_open(browser, served, search, copy_tree, tmp_path):
    copied = copy_tree(search.path)
    write_report(load(copied / "1"))  # run 1 has its own report; the others link to their directories
    write_report(load(copied))
    base = served(copied.parent)
    page = f"{base}/{copied.name}/report/report.html"
    _check_page(browser, page, "Search", min_images=5)
    browser.save_screenshot(str(tmp_path / "report.png"))

    run_links = browser.execute_script(
        "return Array.from(document.querySelectorAll('td a')).map(a => [a.textContent, a.href]);")
    assert {text for text, _ in run_links} == {"0", "1", "2", "3"}  # the trials table and the best run
    for text, href in run_links:
        with urllib.request.urlopen(href, timeout=30) as response:  # noqa: S310 - our own 127.0.0.1 server
            assert response.status == 200, href
    _check_page(browser, dict(run_links)["1"], "Run 1", min_images=1)

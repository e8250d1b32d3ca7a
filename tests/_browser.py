"""Headless Chromium for the report tests (selenium + Debian's chromium and chromium-driver)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_or_skip():
    """(webdriver module, chromium path, chromedriver path), or a skip that says what is missing."""
    try:
        from selenium import webdriver
    except ImportError:
        pytest.skip("browser tests need selenium (pip install selenium)")
    chromium = os.environ.get("L2H_CHROMIUM") or _find("chromium", "chromium-browser", "google-chrome")
    driver = os.environ.get("L2H_CHROMEDRIVER") or _find("chromedriver")
    if not chromium or not driver:
        pytest.skip("browser tests need Chromium and chromedriver (apt-get install chromium chromium-driver)")
    return webdriver, chromium, driver


@contextmanager
def chromium():
    """A headless Chromium with a fresh profile, its console and network logs enabled; always quit."""
    webdriver, binary, driver_path = browser_or_skip()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="l2h-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:  # installed but unable to start is a failure, not a skip
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_report(driver, path: Path, timeout: float = 60.0) -> float:
    """Load ``path`` and wait until the page says it is ready; returns the seconds it took."""
    driver.get("about:blank")
    driver.get_log("performance")  # drop the browser's own start-up requests
    driver.get_log("browser")
    start = time.perf_counter()
    driver.get(path.resolve().as_uri())
    while driver.execute_script("return document.body && document.body.dataset.ready") != "1":
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"the report did not get ready in {timeout} s")
        time.sleep(0.02)
    return time.perf_counter() - start


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since :func:`open_report`."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            out.append(message["params"]["request"]["url"])
    return out

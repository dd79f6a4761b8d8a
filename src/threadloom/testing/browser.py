"""Headless Chromium for browser tests: Debian's ``chromium`` driven by ``chromium-driver``.

Nothing is downloaded: the browser and its driver are the system's (``apt-get install
chromium chromium-driver``), driven with Selenium (``pip install selenium``).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

__all__ = ["FLAGS", "find_chromium", "headless_chromium"]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
"""Chromium's flags: headless, and quiet on the network (tests run offline)."""


def find_chromium() -> tuple[str, str] | None:
    """The paths of ``chromium`` and ``chromedriver``, or ``None`` when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def headless_chromium(browser: str, driver: str) -> Iterator[Any]:
    """A Selenium ``WebDriver`` on a headless Chromium with a fresh profile, quit on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="threadloom-chromium-")
    options = Options()
    options.binary_location = browser
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(60)
    try:
        yield session
    finally:
        session.quit()
        shutil.rmtree(profile, ignore_errors=True)

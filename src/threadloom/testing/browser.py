"""Headless browsers for browser tests: Debian's Chromium and Firefox ESR.

Nothing is downloaded: the browsers are the system's. Chromium (``apt-get install
chromium chromium-driver``) is driven with Selenium (``pip install selenium``).
Firefox (``apt-get install firefox-esr``) is driven over Marionette, its own remote
protocol, with Mozilla's client (``pip install marionette-driver``): no geckodriver.
:class:`Firefox` gives that client the few WebDriver calls of Selenium's that the
tests use, so one test can drive either browser.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "FIREFOX_PREFS",
    "FLAGS",
    "Firefox",
    "find_chromium",
    "find_firefox",
    "headless_chromium",
    "headless_firefox",
]

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


FIREFOX_PREFS: dict[str, bool | int | str] = {
    # Marionette listens on a free port and writes it to the profile's MarionetteActivePort.
    "marionette.port": 0,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
}
"""The throwaway profile's preferences: Marionette on a free port, and quiet on the network
(tests run offline). Firefox adds its own recommended automation preferences."""


def find_firefox() -> str | None:
    """The path of Firefox (Debian's ``firefox-esr``, else ``firefox``), or ``None``."""
    return shutil.which("firefox-esr") or shutil.which("firefox")


class Firefox:
    """A Marionette session behind the part of Selenium's ``WebDriver`` the tests use.

    Elements are Marionette's, which already answer like Selenium's (``click``, ``text``,
    ``send_keys``, ``clear``, ``get_attribute``, ``find_element(s)``); locators are the
    WebDriver strategies (``"id"``, ``"css selector"``... , the values of Selenium's
    ``By``). Scripts run in the page's own scope, as Selenium's do, so they see what
    the page's scripts set on ``window``."""

    name = "firefox"

    def __init__(self, marionette: Any) -> None:
        self.marionette = marionette

    def get(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        self.marionette.navigate(url)

    @property
    def current_url(self) -> str:
        url: str = self.marionette.get_url()
        return url

    def find_element(self, by: str, value: str) -> Any:
        return self.marionette.find_element(by, value)

    def find_elements(self, by: str, value: str) -> list[Any]:
        found: list[Any] = self.marionette.find_elements(by, value)
        return found

    def execute_script(self, script: str, *args: Any) -> Any:
        return self.marionette.execute_script(script, script_args=args, sandbox=None)

    def delete_all_cookies(self) -> None:
        self.marionette.delete_all_cookies()

    def save_screenshot(self, path: str) -> None:
        with open(path, "wb") as out:
            self.marionette.save_screenshot(out, full=False)


def _marionette_port(process: subprocess.Popen[bytes], profile: Path, log: Path) -> int:
    """The port Firefox's Marionette listens on, once it has written it to the profile."""
    written = profile / "MarionetteActivePort"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Firefox exited with status {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError, ValueError):
            return int(written.read_text().strip())
        time.sleep(0.05)
    raise RuntimeError(f"Firefox did not start Marionette within 120 s (log: {log})")


@contextlib.contextmanager
def headless_firefox(binary: str) -> Iterator[Firefox]:
    """A :class:`Firefox` on a headless Firefox with a fresh profile, stopped on exit."""
    with warnings.catch_warnings():
        # mozinfo, imported by the client, calls a deprecated ``distro`` function.
        warnings.simplefilter("ignore", DeprecationWarning)
        from marionette_driver.marionette import Marionette

    profile = Path(tempfile.mkdtemp(prefix="threadloom-firefox-"))
    (profile / "user.js").write_text(
        "".join(
            f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in FIREFOX_PREFS.items()
        )
    )
    log = profile / "firefox.log"
    env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
    command = [binary, "--marionette", "--headless", "--no-remote", "--profile", str(profile)]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "about:blank"], stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env
        )
    marionette: Any = None
    try:
        marionette = Marionette(host="127.0.0.1", port=_marionette_port(process, profile, log))
        marionette.start_session()
        marionette.timeout.page_load = 60
        marionette.set_window_rect(width=1280, height=900)
        yield Firefox(marionette)
    finally:
        if marionette is not None:
            marionette.cleanup()  # ends the session and closes the connection
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


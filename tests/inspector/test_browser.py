"""The inspector in real browsers: Debian's headless Chromium (driven by chromium-driver)
and Firefox ESR (driven over Marionette), each test run in both.

One browser of each kind for the session; servers on loopback. Set
``THREADLOOM_SCREENSHOTS=1`` to write each view's screenshot (Chromium's) into docs/inspector/.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "server"))

from _live import HERE, graph_specs, running
from _world import ASK_THREAD, CHAT_THREAD, XSS_THREAD, World, world
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from threadloom.inspector import create_inspector
from threadloom.server import ServerConfig, create_app
from threadloom.testing.browser import (
    find_chromium,
    find_firefox,
    headless_chromium,
    headless_firefox,
)

SHOTS = Path(__file__).parents[2] / "docs" / "inspector"


class By:
    """WebDriver's locator strategies: the values of Selenium's ``By``, which Marionette
    takes as well."""

    ID = "id"
    CSS_SELECTOR = "css selector"
    TAG_NAME = "tag name"
    LINK_TEXT = "link text"


def _needs(message: str) -> None:
    """Skip for want of a browser, except under CI (``CI`` set), where a missing install
    must fail rather than hide these tests."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session", params=["chromium", "firefox"])
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """One headless browser of each kind for the session: Chromium through Selenium, or
    Firefox through :class:`threadloom.testing.browser.Firefox` (the same calls)."""
    if request.param == "chromium":
        found = find_chromium()
        if found is None or importlib.util.find_spec("selenium") is None:
            _needs("needs Debian's chromium and chromium-driver, and selenium (./run test installs them)")
        assert found is not None
        with headless_chromium(*found) as driver:
            yield driver
    else:
        binary = find_firefox()
        if binary is None or importlib.util.find_spec("marionette_driver") is None:
            _needs("needs Debian's firefox-esr and marionette-driver (./run test installs them)")
        assert binary is not None
        with headless_firefox(binary) as firefox:
            yield firefox


@pytest.fixture
def site(tmp_path: Path, browser: Any) -> Iterator[tuple[str, World]]:
    """A writable inspector on the seeded world, served on loopback; the browser's cookies cleared."""
    with (
        world(tmp_path / "inspect.db") as w,
        running(create_inspector(w.backends, writable=True)) as url,
    ):
        browser.delete_all_cookies()
        yield url, w


def _shot(browser: Any, name: str) -> None:
    """The docs' screenshots are Chromium's."""
    if os.environ.get("THREADLOOM_SCREENSHOTS") and browser.name != "firefox":
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOTS / f"{name}.png"))


def _no_xss(browser: Any) -> None:
    assert browser.execute_script("return window.__xss === undefined")


def _driver_error(browser: Any) -> type[Exception]:
    """The base class of the errors ``browser``'s driver raises."""
    if browser.name == "firefox":
        from marionette_driver.errors import MarionetteException

        return MarionetteException
    from selenium.common.exceptions import WebDriverException

    return WebDriverException


def _until(browser: Any, script: str, timeout: float = 20.0) -> None:
    """Wait until ``script`` returns a true value; driver errors meanwhile (a page being
    replaced) count as "not yet"."""
    error = _driver_error(browser)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if browser.execute_script(script):
                return
        except error:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {script}")
        time.sleep(0.02)


def _go(browser: Any, element: Any) -> None:
    """Click ``element`` and wait until the page it leads to has loaded.

    The old page carries a marker that the new one does not. Polling an element of the
    old page instead races the navigation: Chromium may answer with a generic
    "Node ... does not belong to the document" error rather than a stale element, so
    driver errors while the page changes count as "not there yet"."""
    browser.execute_script("window.__leaving = true")
    element.click()
    _until(browser, "return window.__leaving === undefined && document.readyState === 'complete'")


def _choose(select: Any, value: str) -> None:
    """Pick the option of ``value`` in the <select> element ``select``."""
    select.find_element(By.CSS_SELECTOR, f'option[value="{value}"]').click()
    assert select.get_property("value") == value


def _text(browser: Any) -> str:
    text: str = browser.find_element(By.TAG_NAME, "main").text
    return text


def test_every_view_renders_and_stored_strings_stay_text(
    browser: Any, site: tuple[str, World]
) -> None:
    url, _ = site
    browser.get(f"{url}/threads")
    assert CHAT_THREAD in _text(browser) and XSS_THREAD in _text(browser)
    _no_xss(browser)
    _shot(browser, "threads")

    browser.get(f"{url}/threads/{CHAT_THREAD}")
    chat = _text(browser)
    assert "hi, I am Bob" in chat and "<script>window.__xss = 1</script>" in chat
    assert '<img src=x onerror="window.__xss = 2">' in chat
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    _no_xss(browser)
    _shot(browser, "thread-timeline")

    _go(browser, browser.find_elements(By.CSS_SELECTOR, "a.checkpoint-link")[0])
    assert "6 messages" in _text(browser)
    _no_xss(browser)
    _shot(browser, "checkpoint")

    browser.get(f"{url}/threads/{ASK_THREAD}")
    assert "how many?" in _text(browser)
    _shot(browser, "interrupt")

    browser.get(f"{url}/memories")
    _go(
        browser,
        browser.find_element(By.CSS_SELECTOR, "#namespaces").find_element(By.LINK_TEXT, "memories"),
    )
    assert "bob" in _text(browser) and "alice" in _text(browser)
    _shot(browser, "namespaces")
    _go(
        browser,
        browser.find_element(By.CSS_SELECTOR, "#namespaces").find_element(By.LINK_TEXT, "bob"),
    )
    assert "3 items" in _text(browser)
    _no_xss(browser)
    _shot(browser, "items")

    browser.find_element(By.ID, "memory-query").send_keys("green tea")
    _go(browser, browser.find_element(By.CSS_SELECTOR, "form.search button"))
    assert "Bob likes green tea" in _text(browser) and "(vector)" in _text(browser)
    _shot(browser, "search")
    _choose(browser.find_element(By.ID, "search-mode"), "hybrid")
    browser.find_element(By.ID, "search-filter").send_keys('{"kind": "preference"}')
    _go(browser, browser.find_element(By.ID, "search-run"))
    assert "(hybrid)" in _text(browser) and "Bob likes green tea" in _text(browser)
    assert re.fullmatch(r"-?\d+\.\d{4}", browser.find_element(By.CSS_SELECTOR, "td.score").text)

    browser.get(f"{url}/memories/item?ns=memories.bob&key=xss")
    assert "<script>window.__xss = 1</script>" in browser.find_element(By.ID, "item-value").text
    _no_xss(browser)
    _shot(browser, "item")

    browser.get(f"{url}/graphs")
    _until(browser, "return !!document.body.getAttribute('data-graphs-drawn')")
    assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-graphs-drawn") == "yes"
    assert len(browser.find_elements(By.CSS_SELECTOR, "pre.mermaid svg")) == 2
    _shot(browser, "graphs")


def test_actions_through_the_forms(browser: Any, site: tuple[str, World]) -> None:
    url, w = site
    store = w.backends.store
    browser.get(f"{url}/memories/item?ns=memories.bob&key=name")
    box = browser.find_element(By.ID, "edit-value")
    box.clear()
    box.send_keys('{"text": "User name is Robert"}')
    _go(browser, browser.find_element(By.ID, "edit-save"))
    assert "Are you sure?" in _text(browser)
    _shot(browser, "confirm")
    _go(browser, browser.find_element(By.ID, "confirm"))
    assert "Robert" in browser.find_element(By.ID, "item-value").text
    assert store.get(("memories", "bob"), "name").value == {"text": "User name is Robert"}

    _go(browser, browser.find_element(By.ID, "delete-item"))
    _go(browser, browser.find_element(By.ID, "confirm"))
    assert store.get(("memories", "bob"), "name") is None

    browser.get(f"{url}/memories?ns=memories.alice")
    _go(browser, browser.find_element(By.ID, "delete-namespace"))
    assert "all 1 memories" in _text(browser)
    _go(browser, browser.find_element(By.ID, "confirm"))
    assert store.search(("memories", "alice")) == []

    browser.get(f"{url}/threads/{ASK_THREAD}")
    _choose(browser.find_element(By.CSS_SELECTOR, "#interrupts select"), "asker")
    browser.find_element(By.ID, "resume-value").send_keys("41")
    _go(browser, browser.find_element(By.ID, "resume"))
    asker = w.backends.graphs["asker"]
    assert asker.get_state({"configurable": {"thread_id": ASK_THREAD}}).values == {"n": 42}

    browser.get(f"{url}/threads/{CHAT_THREAD}")
    _go(browser, browser.find_elements(By.CSS_SELECTOR, "a.checkpoint-link")[-1])
    _choose(browser.find_element(By.CSS_SELECTOR, "#fork select"), "chat")
    browser.find_element(By.ID, "fork-input").send_keys("a new beginning")
    _go(browser, browser.find_element(By.ID, "fork-run"))
    assert "a new beginning" in _text(browser)
    values = (
        w.backends.graphs["chat"].get_state({"configurable": {"thread_id": CHAT_THREAD}}).values
    )
    assert values["messages"][-2].content == "a new beginning"


def test_a_form_on_another_site_is_refused(browser: Any, site: tuple[str, World]) -> None:
    url, w = site
    browser.get(f"{url}/threads")  # the browser holds a CSRF cookie for the inspector

    async def evil(request: Any) -> HTMLResponse:
        return HTMLResponse(
            f'<form method="post" action="{url}/memories/namespace/delete">'
            '<input name="ns" value="memories"><input name="confirmed" value="yes">'
            '<input name="csrf" value="guess"><button id="go">go</button></form>'
        )

    with running(Starlette(routes=[Route("/", evil)])) as other:
        browser.get(other.replace("127.0.0.1", "localhost"))
        _go(browser, browser.find_element(By.ID, "go"))
        assert "refused" in browser.find_element(By.ID, "error").text
    assert len(w.backends.store.search(("memories",))) == 4


def test_a_user_does_not_see_another_users_data(browser: Any, tmp_path: Path) -> None:
    import httpx

    app = create_app(
        ServerConfig(base_dir=HERE, graphs=graph_specs(), api_keys={"ka": "alice", "kb": "bob"}),
        database=str(tmp_path / "server.db"),
        workers=2,
    )
    with running(app) as url, httpx.Client(base_url=url, headers={"x-api-key": "kb"}) as bob:
        tid = bob.post("/threads", json={"metadata": {"secret": "bob-thread"}}).json()["thread_id"]
        bob.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "counter", "input": {"n": 1}})
        bob.put(
            "/store/items",
            json={"namespace": ["notes"], "key": "k", "value": {"secret": "bob-note"}},
        )
        browser.delete_all_cookies()
        browser.get(f"{url}/inspector/threads")
        assert browser.current_url.endswith("/inspector/login")
        _shot(browser, "login")
        browser.find_element(By.ID, "api_key").send_keys("ka")
        _go(browser, browser.find_element(By.ID, "login"))
        assert browser.find_element(By.ID, "identity").text == "alice"
        assert tid not in _text(browser)
        browser.get(f"{url}/inspector/threads/{tid}")
        assert "not found" in browser.find_element(By.ID, "error").text
        browser.get(f"{url}/inspector/memories")
        assert "notes" not in _text(browser)

        browser.delete_all_cookies()
        browser.get(f"{url}/inspector/login")
        browser.find_element(By.ID, "api_key").send_keys("kb")
        _go(browser, browser.find_element(By.ID, "login"))
        assert tid in _text(browser)
        browser.get(f"{url}/inspector/memories")
        assert "notes" in _text(browser)
        browser.delete_all_cookies()

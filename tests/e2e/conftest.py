"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Playwright's own browser download does not work here, so the tests launch /usr/bin/chromium
(`.ci/run` installs it). Playwright runs an event loop in this process, which makes Django refuse
ORM calls from "async context" unless DJANGO_ALLOW_ASYNC_UNSAFE is set before it starts.
Screenshots of the main pages go to tests/e2e/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).parent / "screenshots"
# The compiled German translations (written by `manage.py compilemessages`).
GERMAN_MO = Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES" / "django.mo"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def _keep_evidence(request, page) -> None:
    """After a failed test: the page as it was (screenshot and HTML) in screenshots/failed/."""
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed:
        return
    folder = SCREENSHOTS / "failed"
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    from playwright.sync_api import Error

    try:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
        (folder / f"{name}.html").write_text(page.content())
    except Error as exc:  # the page may be gone already; the test's own error says more
        print(f"No screenshot of the failed page: {exc}")


POLICY_MESSAGES = ("Content Security Policy", "Content-Security-Policy", "Permissions-Policy", "Permissions Policy")


def is_policy_message(text: str) -> bool:
    """A console message about the security headers: Chromium logs every CSP violation ("Refused
    to execute inline script because it violates the following Content Security Policy
    directive …") and every feature of the Permissions-Policy header it cannot read."""
    return any(words in text for words in POLICY_MESSAGES)


def _login(context, live_server, client, user) -> None:
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


@pytest.fixture
def owner(django_user_model):
    from tests.base import make_owner

    return make_owner()


def _new_page(browser, live_server, *, locale: str, width: int = 1280, height: int = 900, user=None, client=None,
              headers: dict | None = None):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale,
                                  extra_http_headers=headers or {})
    context.set_default_timeout(10_000)
    context.set_default_navigation_timeout(10_000)
    if user is not None:
        _login(context, live_server, client, user)
    page = context.new_page()
    page.url_for = lambda path: live_server.url + path  # type: ignore[attr-defined]
    # Problems the tests must not miss: a script error, or a server error behind any request
    # (an htmx fragment or a fetch() included), whatever the page shows; and anything the
    # Content-Security-Policy or the Permissions-Policy blocked or could not read, which the
    # browser reports on its console (a script, a style or an image the page needed).
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"JavaScript error: {exc}"))
    page.on("console", lambda message: problems.append(f"Security policy: {message.text}")
            if is_policy_message(message.text) else None)
    page.on("response", lambda response: problems.append(f"HTTP {response.status} from {response.url}")
            if response.status >= 500 else None)
    return context, page, problems


@pytest.fixture
def page(request, browser, live_server, client, owner) -> Iterator:
    """A logged-in owner's page in English at a laptop's width."""
    context, page, problems = _new_page(browser, live_server, locale="en-US", user=owner, client=client)
    yield page
    _keep_evidence(request, page)
    context.close()
    assert not problems, f"Problems on the page: {problems}"


@pytest.fixture
def page_de(request, browser, live_server, client, owner) -> Iterator:
    """The same, with a German browser."""
    context, page, problems = _new_page(browser, live_server, locale="de-DE", user=owner, client=client,
                                        headers={"Accept-Language": "de-DE,de;q=0.9"})
    yield page
    _keep_evidence(request, page)
    context.close()
    assert not problems, f"Problems on the page: {problems}"


@pytest.fixture
def anonymous_page(request, browser, live_server) -> Iterator:
    """A visitor who is not logged in (the login page, a customer's public invoice link)."""
    context, page, problems = _new_page(browser, live_server, locale="en-US")
    yield page
    _keep_evidence(request, page)
    context.close()
    assert not problems, f"Problems on the page: {problems}"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


PHONE = {"width": 390, "height": 844}


def screenshots(page, name: str) -> None:
    """Full-page screenshots at the page's own width (1280 px) and at a phone's (390 px):
    `<name>.png` and `<name>-phone.png`. The phone view is the same page laid out again."""
    screenshot(page, name)
    desktop = page.viewport_size
    resize(page, PHONE)
    try:
        screenshot(page, f"{name}-phone")
    finally:
        resize(page, desktop)


def resize(page, size: dict) -> None:
    """A new viewport size, once the page has been laid out for it. Charts redraw a few frames
    after a resize: wait (briefly) until the page fits the new width, as it should."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.set_viewport_size(size)
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    try:
        page.wait_for_function("() => document.documentElement.scrollWidth <= window.innerWidth", timeout=2_000)
    except PlaywrightTimeout:
        pass  # a page that really is too wide: the screenshot shows it, test_screenshots reports it

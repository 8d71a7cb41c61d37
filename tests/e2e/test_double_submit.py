"""The one double-submit guard (static/js/app.js, on every page): a form marked data-once, or sent
with a button marked data-once, goes to the server once however often it is sent; the language
menu and the task filters send their form when changed (data-autosubmit, no inline handler)."""

from __future__ import annotations

import re

from playwright.sync_api import Error, expect

from invoices.models import Contact
from tests.base import make_contact


# Two clicks 0.2 s apart, the second while the first request is on its way (Playwright's own
# calls wait for a pending navigation, so the page does both itself). Returns whether the button
# was disabled in between.
SEND_TWICE = """async (selector) => {
    const save = document.querySelector(selector);
    save.form.requestSubmit(save);
    await new Promise(done => setTimeout(done, 200));
    const disabled = save.disabled;
    save.form.requestSubmit(save);
    await new Promise(done => setTimeout(done, 200));
    return disabled;
}"""


def hold_posts(page, path: str) -> list:
    """POSTs to `path` are held (not answered) until released: the page stays as it is, as while a
    slow server works, so that a second click can happen."""
    held: list = []
    page.route(f"**{path}", lambda route: held.append(route) if route.request.method == "POST" else route.continue_())
    return held


def send_twice(page, held: list, selector: str) -> None:
    """Sends the form of the button `selector` twice; checks it reached the server once."""
    disabled = page.evaluate(SEND_TWICE, selector)
    sent = [route.request.url for route in held]
    for route in held:
        try:
            route.continue_()
        except Error:  # a request the browser gave up for the second one
            pass
    assert len(sent) == 1, sent
    assert disabled


def test_a_form_marked_once_is_sent_once(page):
    page.goto(page.url_for("/invoices/contacts/new/"))
    page.get_by_label("Name").fill("Grace Hopper")
    held = hold_posts(page, "/invoices/contacts/new/")
    send_twice(page, held, "main form[data-once] button[type=submit]")
    expect(page.get_by_role("heading", level=1, name="Grace Hopper")).to_be_visible()
    assert Contact.objects.filter(name="Grace Hopper").count() == 1


def test_a_button_marked_once_sends_its_form_once(page):
    """As the builder's Activate button: a form with other buttons (Back, Next), where only this
    one is marked."""
    page.goto(page.url_for("/invoices/contacts/new/"))
    page.evaluate("""() => {
        const form = document.querySelector("main form[data-once]");
        form.removeAttribute("data-once");
        form.querySelector("button[type=submit]").setAttribute("data-once", "");
    }""")
    page.get_by_label("Name").fill("Ada Lovelace")
    held = hold_posts(page, "/invoices/contacts/new/")
    send_twice(page, held, "main button[data-once]")
    expect(page.get_by_role("heading", level=1, name="Ada Lovelace")).to_be_visible()


def test_the_task_filter_and_the_language_menu_send_themselves_when_changed(page):
    make_contact(name="Grace Hopper")
    page.goto(page.url_for("/tasks/"))
    page.get_by_label("Show done").check()
    expect(page).to_have_url(re.compile(r"[?&]done=1"))
    page.locator("nav.navbar select[name=language]").select_option("de")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aufgaben & Erinnerungen")

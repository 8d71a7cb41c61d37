"""Tasks & Reminders: a task marked done leaves the open list and shows as done."""

from __future__ import annotations

import datetime as dt
import re

from playwright.sync_api import expect

from tasks.models import Task
from tasks.services import create_task
from tests.base import make_contact


def test_complete_a_task(page, owner):
    contact = make_contact(name="Grace Hopper")
    call = create_task(title="Call Grace about invoice 7", contact=contact, assignee=owner,
                       due_date=dt.date.today() - dt.timedelta(days=1))
    create_task(title="Send the yearly statement", due_date=dt.date.today() + dt.timedelta(days=5))

    page.goto(page.url_for("/"))
    page.locator("nav.navbar").get_by_role("link", name="Tasks & Reminders").click()
    expect(page.get_by_role("heading", level=1, name="Tasks & Reminders")).to_be_visible()
    # "Mine" first: only the task assigned to me; "All" has the team's too.
    expect(page.locator(".task-item")).to_have_count(1)
    page.locator(".task-tabs").get_by_role("link", name="All").click()
    expect(page.locator(".task-tabs [aria-current=page]")).to_contain_text("All")
    item = page.locator(f"#task-{call.pk}")
    expect(item).to_contain_text("Call Grace about invoice 7")
    expect(item).to_contain_text("Overdue")
    expect(page.locator(".task-item")).to_have_count(2)
    open_count = page.locator(".task-tabs .nav-link.active .badge")
    expect(open_count).to_have_text("2")

    item.get_by_role("button", name="Mark done").click()

    expect(page.get_by_role("alert")).to_contain_text("Task “Call Grace about invoice 7” is done.")
    expect(page.locator(f"#task-{call.pk}")).to_have_count(0)
    expect(page.locator(".task-item")).to_have_count(1)
    expect(page.locator(".task-item")).to_contain_text("Send the yearly statement")
    expect(open_count).to_have_text("1")
    call.refresh_from_db()
    assert call.status == "done" and call.completed_at is not None

    # With "Show done" it is there, struck through, and can be reopened.
    page.get_by_label("Show done").check()
    done = page.locator(f"#task-{call.pk}")
    expect(done).to_have_class(re.compile(r"\btask-done\b"))
    expect(done.locator(".badge", has_text="Done")).to_be_visible()
    expect(done.get_by_role("button", name="Reopen")).to_be_visible()
    assert Task.objects.filter(status="open").count() == 1

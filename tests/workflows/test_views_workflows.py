"""Workflow pages: list, create, rename, delete, and the columns (steps) of a board."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations.services import create_automation
from tests.base import make_board, make_contact, messages_of, step
from workflows import services
from workflows.models import Card, Step, Workflow

pytestmark = pytest.mark.django_db

LIST = reverse("workflows:workflow-list")
CREATE = reverse("workflows:workflow-create")


@pytest.fixture
def user(member):
    """These pages are tried as a team member (the fixtures are in tests/conftest.py)."""
    return member


def step_names(workflow: Workflow) -> list[str]:
    return list(workflow.steps.order_by("position").values_list("name", flat=True))


def cards_of(s: Step) -> list[str]:
    return list(Card.objects.filter(step=s).order_by("position").values_list("contact__name", flat=True))


def board_url(workflow: Workflow) -> str:
    return reverse("workflows:workflow-board", args=[workflow.pk])


def automation_moving_to(s: Step, name: str = "Archive paid"):
    return create_automation(name=name, trigger="invoice_paid", frequency="unlimited",
                             actions=[{"kind": "move_card", "step": s}])


# --- Access -----------------------------------------------------------------------------------


def _page_urls() -> list[str]:
    board = make_board()
    first = board.steps.first()
    return [LIST, CREATE, board_url(board), reverse("workflows:workflow-delete", args=[board.pk]),
            reverse("workflows:step-delete", args=[first.pk])]


def test_workflow_pages_redirect_anonymous_users_to_the_login(client):
    for url in _page_urls():
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"/login/?next={url}"


def test_workflow_pages_render_for_a_logged_in_user(client, user):
    for url in _page_urls():
        assert client.get(url).status_code == 200, url


def test_changes_need_a_login(client):
    board = make_board()
    response = client.post(reverse("workflows:workflow-rename", args=[board.pk]), {"name": "Hacked"})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    board.refresh_from_db()
    assert board.name == "Collections"


def test_unknown_workflow_is_404(client, user):
    assert client.get(reverse("workflows:workflow-board", args=[999999])).status_code == 404


# --- Workflows --------------------------------------------------------------------------------


def test_workflow_list_shows_every_board_with_a_link(client, user):
    board = make_board("Collections")
    make_board("Sales", ["Lead", "Won"])
    html = client.get(LIST).content.decode()
    assert "Collections" in html and "Sales" in html
    assert f'href="{board_url(board)}"' in html


def test_create_workflow_with_its_initial_columns(client, user):
    response = client.post(CREATE, {"name": "Onboarding", "steps": "Signed\n\n  Kick-off  \nLive\n"})
    board = Workflow.objects.get(name="Onboarding")
    assert response.status_code == 302 and response["Location"] == board_url(board)
    assert step_names(board) == ["Signed", "Kick-off", "Live"]


def test_create_form_suggests_columns(client, user):
    form = client.get(CREATE).context["form"]
    assert form.initial["steps"].splitlines() == ["New", "In progress", "Done"]


@pytest.mark.parametrize("data, field, text", [
    ({"name": "", "steps": "A"}, "name", "required"),
    ({"name": "Board", "steps": "  \n "}, "steps", "required"),
    ({"name": "Board", "steps": "Open\nopen"}, "steps", "twice"),
    ({"name": "Board", "steps": "x" * 101}, "steps", "100"),
    ({"name": "x" * 201, "steps": "A"}, "name", "200"),
])
def test_create_workflow_with_bad_input_shows_the_error_and_saves_nothing(client, user, data, field, text):
    response = client.post(CREATE, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert text in " ".join(errors.get(field, []))
    assert not Workflow.objects.exists() and not Step.objects.exists()


def test_create_workflow_with_a_name_in_use_is_refused_at_the_name(client, user):
    make_board("Collections")
    response = client.post(CREATE, {"name": "collections", "steps": "A"})
    assert "already exists" in response.context["form"].errors["name"][0]
    assert Workflow.objects.count() == 1


def test_rename_workflow(client, user):
    board = make_board()
    response = client.post(reverse("workflows:workflow-rename", args=[board.pk]), {"name": "  Dunning  "})
    assert response["Location"] == board_url(board)
    board.refresh_from_db()
    assert board.name == "Dunning"


def test_rename_workflow_to_a_name_in_use_shows_the_message(client, user):
    board = make_board("Collections")
    make_board("Sales")
    response = client.post(reverse("workflows:workflow-rename", args=[board.pk]), {"name": "sales"}, follow=True)
    assert "already exists" in response.content.decode()
    board.refresh_from_db()
    assert board.name == "Collections"


def test_delete_workflow_asks_then_deletes_the_board_and_its_cards(client, user):
    board = make_board()
    contact = make_contact()
    services.place_card(contact=contact, step=step(board, "New"))
    url = reverse("workflows:workflow-delete", args=[board.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Delete workflow" in confirm.content.decode()
    assert Workflow.objects.filter(pk=board.pk).exists()

    response = client.post(url)
    assert response["Location"] == LIST
    assert not Workflow.objects.filter(pk=board.pk).exists()
    assert not Card.objects.exists()
    contact.refresh_from_db()  # the contact stays


def test_delete_workflow_used_by_an_automation_is_refused_naming_it(client, user):
    board = make_board()
    automation_moving_to(step(board, "Paid"), "Archive paid")
    url = reverse("workflows:workflow-delete", args=[board.pk])
    confirm = client.get(url).content.decode()
    assert "“Archive paid”" in confirm and "Delete workflow</button>" not in confirm
    response = client.post(url)
    assert response.status_code == 200
    assert "“Archive paid”" in response.content.decode()
    assert Workflow.objects.filter(pk=board.pk).exists()


# --- Columns ----------------------------------------------------------------------------------


def test_add_column_goes_to_the_end(client, user):
    board = make_board()
    response = client.post(reverse("workflows:step-add", args=[board.pk]), {"name": "Written off"})
    new = step(board, "Written off")
    assert response["Location"] == f"{board_url(board)}#step-{new.pk}"
    assert step_names(board) == ["New", "Reminded", "Paid", "Written off"]


@pytest.mark.parametrize("name, text", [("", "required"), ("reminded", "already has a step"), ("x" * 101, "100")])
def test_add_column_with_a_bad_name_shows_the_message_and_saves_nothing(client, user, name, text):
    board = make_board()
    response = client.post(reverse("workflows:step-add", args=[board.pk]), {"name": name}, follow=True)
    assert any(text in m for m in messages_of(response))
    assert step_names(board) == ["New", "Reminded", "Paid"]


def test_rename_column_inline(client, user):
    board = make_board()
    reminded = step(board, "Reminded")
    response = client.post(reverse("workflows:step-rename", args=[reminded.pk]), {"name": "Reminded once"})
    assert response["Location"] == f"{board_url(board)}#step-{reminded.pk}"
    assert step_names(board) == ["New", "Reminded once", "Paid"]


def test_rename_column_to_a_name_in_use_is_refused(client, user):
    board = make_board()
    response = client.post(reverse("workflows:step-rename", args=[step(board, "New").pk]), {"name": "Paid"},
                           follow=True)
    assert "already has a step named “Paid”" in response.content.decode()
    assert step_names(board) == ["New", "Reminded", "Paid"]


def test_move_column_left_and_right(client, user):
    board = make_board()
    paid = step(board, "Paid")
    client.post(reverse("workflows:step-move", args=[paid.pk]), {"direction": "left"})
    assert step_names(board) == ["New", "Paid", "Reminded"]
    client.post(reverse("workflows:step-move", args=[paid.pk]), {"direction": "left"})
    assert step_names(board) == ["Paid", "New", "Reminded"]
    client.post(reverse("workflows:step-move", args=[paid.pk]), {"direction": "left"})  # already first
    assert step_names(board) == ["Paid", "New", "Reminded"]
    client.post(reverse("workflows:step-move", args=[paid.pk]), {"direction": "right"})
    assert step_names(board) == ["New", "Paid", "Reminded"]
    assert list(board.steps.order_by("position").values_list("position", flat=True)) == [0, 1, 2]


def test_reordered_columns_stay_in_order_after_a_reload(client, user):
    board = make_board()
    client.post(reverse("workflows:step-move", args=[step(board, "New").pk]), {"direction": "right"})
    assert [s.name for s in client.get(board_url(board)).context["steps"]] == ["Reminded", "New", "Paid"]


def test_delete_an_empty_column_after_confirming(client, user):
    board = make_board()
    reminded = step(board, "Reminded")
    url = reverse("workflows:step-delete", args=[reminded.pk])
    assert "The column is empty" in client.get(url).content.decode()
    response = client.post(url)
    assert response["Location"] == board_url(board)
    assert step_names(board) == ["New", "Paid"]
    assert list(board.steps.order_by("position").values_list("position", flat=True)) == [0, 1]


def test_delete_a_column_with_cards_asks_where_they_go(client, user):
    board = make_board()
    reminded = step(board, "Reminded")
    services.place_card(contact=make_contact(name="Ada"), step=reminded)
    url = reverse("workflows:step-delete", args=[reminded.pk])
    response = client.get(url)
    html = response.content.decode()
    assert "This column holds 1 card" in html
    targets = [choice[1] for choice in response.context["form"].fields["move_cards_to"].choices]
    assert targets == ["New", "Paid"]

    refused = client.post(url, {})  # no target chosen
    assert refused.status_code == 200 and "move_cards_to" in refused.context["form"].errors
    assert Step.objects.filter(pk=reminded.pk).exists()


def test_delete_a_column_moves_its_cards_to_the_chosen_column(client, user):
    board = make_board()
    new, reminded = step(board, "New"), step(board, "Reminded")
    services.place_card(contact=make_contact(name="Zoe"), step=new)
    for name in ("Ada", "Bob"):
        services.place_card(contact=make_contact(name=name), step=reminded)
    response = client.post(reverse("workflows:step-delete", args=[reminded.pk]), {"move_cards_to": new.pk})
    assert response["Location"] == board_url(board)
    assert not Step.objects.filter(pk=reminded.pk).exists()
    assert cards_of(new) == ["Zoe", "Ada", "Bob"]
    assert list(Card.objects.filter(step=new).order_by("position").values_list("position", flat=True)) == [0, 1, 2]


def test_delete_a_column_refuses_a_target_of_another_workflow(client, user):
    board, other = make_board(), make_board("Sales", ["Lead"])
    reminded = step(board, "Reminded")
    services.place_card(contact=make_contact(), step=reminded)
    response = client.post(reverse("workflows:step-delete", args=[reminded.pk]),
                           {"move_cards_to": step(other, "Lead").pk})
    assert response.status_code == 200 and "move_cards_to" in response.context["form"].errors
    assert Step.objects.filter(pk=reminded.pk).exists()


def test_delete_a_column_used_by_an_automation_is_refused_naming_it(client, user):
    board = make_board()
    paid = step(board, "Paid")
    automation_moving_to(paid, "Archive paid")
    url = reverse("workflows:step-delete", args=[paid.pk])
    page = client.get(url).content.decode()
    assert "“Archive paid”" in page and "Delete column</button>" not in page
    response = client.post(url)
    assert response.status_code == 200
    assert "“Archive paid”" in response.content.decode()
    assert Step.objects.filter(pk=paid.pk).exists()


def test_the_board_names_the_automations_that_use_a_column(client, user):
    board = make_board()
    automation_moving_to(step(board, "Paid"), "Archive paid")
    assert "Automation: Archive paid" in client.get(board_url(board)).content.decode()

"""Two people tag contacts with the same new tag at the same moment (PostgreSQL: real concurrent
transactions; SQLite serialises every writer, so it is skipped there). Both saves succeed and share
one tag: the loser of the unique tag name reads the winner's row instead of failing."""

from __future__ import annotations

import pytest

from invoices import services
from invoices.models import Tag
from tests import threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("postgres_only"),
]


def test_two_contacts_created_at_once_with_the_same_new_tag_both_get_the_one_tag():
    for round_ in range(5):  # who wins the race differs from round to round
        tag = f"Messe {round_}"
        outcomes = threads.run_at_once(
            lambda: services.create_contact(name="Ada", tags=["Neukunde", tag]),
            lambda: services.create_contact(name="Grace", tags=[tag.upper(), "Neukunde"]))
        assert [o for o in outcomes if isinstance(o, BaseException)] == []
        assert Tag.objects.filter(name__iexact=tag).count() == 1
        assert sorted(Tag.objects.get(name__iexact=tag).contacts.values_list("name", flat=True)) == ["Ada", "Grace"]
    assert Tag.objects.get(name="Neukunde").contacts.count() == 10

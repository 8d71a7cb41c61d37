"""Changes to people and roles that always leave someone who can manage the site.

An **owner who can manage the site** is a person who can log in (active), may use the admin (staff)
and has the Owner role or is a superuser: only such a person can give roles, reset passwords or lift
a lockout. Deactivating, deleting or demoting the last of them (taking the Owner role, superuser or
staff status, or renaming or deleting the Owner role itself) would lock everybody out of that for
good, so it is refused with a message; nothing of the attempt is saved.

Two owners who demote each other at the same moment must not both succeed: every change here locks
the rows of the current owners first (in a fixed order), so the second change waits for the first
and then counts what the first left.

The `*_problems` / `check_*` functions answer the same question without a lock, for the admin's
forms and confirmation pages; the saving functions ask it again under the lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, validate_value

from .models import ApiToken, ApiTokenScope
from .roles import OWNER

OWNER_OF_THE_SITE = Q(is_active=True, is_staff=True) & (Q(is_superuser=True) | Q(groups__name=OWNER))


def owners() -> QuerySet[User]:
    """The people who can manage the site (see the module's docstring)."""
    return User.objects.filter(pk__in=User.objects.filter(OWNER_OF_THE_SITE).values("pk"))


def _name(user: User) -> str:
    return user.get_full_name() or user.get_username()


def _deleted(user: User) -> str:
    return _("%(name)s is the last active owner and cannot be deleted: nobody could manage people and "
             "settings any more. Give someone else the Owner role (with staff status) first.") % {"name": _name(user)}


def _deactivated(user: User) -> str:
    return _("%(name)s is the last active owner and cannot be deactivated: nobody could manage people and "
             "settings any more. Give someone else the Owner role (with staff status) first.") % {"name": _name(user)}


def _demoted(user: User) -> str:
    return _("%(name)s is the last active owner and cannot lose the Owner role, superuser or staff status: "
             "nobody could manage people and settings any more. Give someone else the Owner role (with staff "
             "status) first.") % {"name": _name(user)}


def _refusal(before: list[User]) -> DomainError:
    """Why the change is refused, said of the first person who was an owner before it."""
    user = before[0]
    now = User.objects.filter(pk=user.pk).first()
    if now is None:
        return DomainError(_deleted(user))
    if not now.is_active:
        return DomainError(_deactivated(user), field="is_active")
    return DomainError(_demoted(user), field="groups")


def _ensure_an_owner_remains(before: list[User]) -> None:
    if before and not owners().exists():
        raise _refusal(before)


@contextmanager
def keeping_an_owner() -> Iterator[None]:
    """Run changes to people in one transaction that is refused (DomainError, everything rolled
    back) if the site had an owner before and has none after."""
    with transaction.atomic():
        # The lock: a second change that could remove an owner waits here until the first has
        # committed, and only then counts (a new statement sees what the first left).
        before = list(User.objects.select_for_update().filter(pk__in=owners().values("pk")).order_by("pk"))
        yield
        _ensure_an_owner_remains(before)


# --- The checks without a lock, for forms and confirmation pages --------------------------------


def check_person_change(*, user: User, is_active: bool, is_staff: bool, is_superuser: bool,
                        groups: Iterable[Group]) -> None:
    """Refuse (DomainError at the field) a change that would take the last owner's power away."""
    if user.pk is None or not owners().filter(pk=user.pk).exists():
        return
    still_owner = is_active and is_staff and (is_superuser or any(g.name == OWNER for g in groups))
    if still_owner or owners().exclude(pk=user.pk).exists():
        return
    if not is_active:
        raise DomainError(_deactivated(user), field="is_active")
    if not is_staff:
        raise DomainError(_demoted(user), field="is_staff")
    was_superuser = User.objects.filter(pk=user.pk, is_superuser=True).exists()
    raise DomainError(_demoted(user), field="is_superuser" if was_superuser and not is_superuser else "groups")


def deletion_problems(*, users: Iterable[User]) -> list[str]:
    """Why these people cannot be deleted together (empty: they can)."""
    pks = [user.pk for user in users]
    leaving = list(owners().filter(pk__in=pks).order_by("pk"))
    if leaving and not owners().exclude(pk__in=pks).exists():
        return [_deleted(leaving[0])]
    return []


def role_change_problems(*, group: Group, name: str) -> list[str]:
    """Renaming the Owner role takes it from everybody: only while a superuser owner remains."""
    return _role_gone_problems(group) if group.pk and group.name == OWNER and name != OWNER else []


def role_deletion_problems(*, groups: Iterable[Group]) -> list[str]:
    return [problem for group in groups if group.name == OWNER for problem in _role_gone_problems(group)]


def _role_gone_problems(group: Group) -> list[str]:
    left = owners().filter(is_superuser=True)
    if left.exists():
        return []
    first = owners().order_by("pk").first()
    return [_demoted(first)] if first is not None else []


# --- The changes -------------------------------------------------------------------------------


def save_person(*, user: User, groups: Iterable[Group] | None = None,
                permissions: Iterable[Permission] | None = None) -> User:
    """Save a person changed in memory (active, staff, superuser, names, …) and, when given, their
    roles and own permissions; refused if that leaves the site without an owner."""
    with keeping_an_owner():
        user.save()
        if groups is not None:
            user.groups.set(groups)
        if permissions is not None:
            user.user_permissions.set(permissions)
    return user


def delete_people(*, users: Iterable[User]) -> int:
    """Delete these people; refused (nobody deleted) if that leaves the site without an owner."""
    with keeping_an_owner():
        pks = [user.pk for user in users]
        for user in User.objects.filter(pk__in=pks).order_by("pk"):
            user.delete()
    return len(pks)


def save_role(*, group: Group, permissions: Iterable[Permission] | None = None) -> Group:
    """Save a role changed in memory (its name) and, when given, its permissions."""
    with keeping_an_owner():
        group.save()
        if permissions is not None:
            group.permissions.set(permissions)
    return group


def delete_roles(*, groups: Iterable[Group]) -> int:
    with keeping_an_owner():
        pks = [group.pk for group in groups]
        for group in Group.objects.filter(pk__in=pks).order_by("pk"):
            group.delete()
    return len(pks)


# --- Personal API tokens -------------------------------------------------------------------------

# Every token starts with this, so that a leaked one is recognised (secret scanners, logs).
TOKEN_PREFIX = "inv_"
# The characters of a token shown in the list (the prefix and the first of its random part).
SHOWN = 12
MAX_TOKENS_PER_USER = 50


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up. A token is 256 random bits, so
    a fast hash is enough: nobody can guess one from its hash, whatever the speed."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_api_token(*, user: User, name: str, scope: str) -> tuple[ApiToken, str]:
    """A new token of `user`: (the saved row, the token itself). The token is not stored and can
    never be shown again; only its hash and its first characters are kept."""
    name = " ".join(str(name or "").split())
    if not name:
        raise DomainError(_("Give the token a name, e.g. what it is for."), field="name")
    validate_value(ApiToken, "name", name)
    if scope not in ApiTokenScope.values:
        raise DomainError(_("Choose what the token may do: read, or read and write."), field="scope")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        # Counted under a lock of the person's row, so two tabs cannot both pass the limit.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_TOKENS_PER_USER:
            raise DomainError(_("You have %(count)d active tokens, the most one person may have. Revoke one you "
                                "no longer use first.") % {"count": MAX_TOKENS_PER_USER})
        row = ApiToken.objects.create(user=user, name=name, scope=scope, prefix=token[:SHOWN],
                                      token_hash=hash_token(token))
    return row, token


def revoke_api_token(*, token: ApiToken, by: User | None = None, now: dt.datetime | None = None) -> ApiToken:
    """Revoke a token: from now on it is refused. Revoking one that is revoked already is refused."""
    now = now or timezone.now()
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now)
        if changed != 1:
            raise DomainError(_("The token “%(name)s” has already been revoked.") % {"name": token.name})
    token.revoked_at = now
    return token


def token_for(raw: str) -> ApiToken | None:
    """The active token `raw` is, with its active person; None for anything else."""
    if not raw or len(raw) > 200 or not raw.startswith(TOKEN_PREFIX):
        return None
    return (ApiToken.objects.select_related("user")
            .filter(token_hash=hash_token(raw), revoked_at__isnull=True, user__is_active=True).first())


# How often the "last used" moment is written (not on every request: that would be a write per read).
LAST_USED_EVERY = dt.timedelta(minutes=1)


def note_token_use(*, token: ApiToken, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now

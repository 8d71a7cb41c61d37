"""People and roles in the admin: Django's own pages, with every change going through
accounts.services, which refuses to leave the site without an owner (the form says so at the
field; the delete pages list it as the reason nothing can be deleted)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm
from django.contrib.auth.models import Group, User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from core.admin import ServiceErrorsMixin
from core.errors import DomainError
from core.forms import add_domain_error

from . import services


class PersonChangeForm(UserChangeForm):
    def clean(self):
        cleaned = super().clean()
        data = {name: cleaned.get(name, getattr(self.instance, name))
                for name in ("is_active", "is_staff", "is_superuser")}
        groups = cleaned["groups"] if "groups" in cleaned else self.instance.groups.all()
        try:
            services.check_person_change(user=self.instance, groups=groups, **data)
        except DomainError as exc:
            add_domain_error(self, exc)
        return cleaned


class RoleForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = "__all__"

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if self.instance.pk:
            original = Group.objects.get(pk=self.instance.pk)
            problems = services.role_change_problems(group=original, name=name)
            if problems:
                raise ValidationError(problems)
        return name


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(ServiceErrorsMixin, DjangoUserAdmin):
    form = PersonChangeForm

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, perms_needed, [*protected, *services.deletion_problems(users=list(objs))]

    def save_model(self, request, obj: User, form, change: bool) -> None:
        if not change:  # a new person takes nobody's place
            super().save_model(request, obj, form, change)
        # A change is saved with the roles in save_related, where the service checks both at once.

    def save_related(self, request, form, formsets, change: bool) -> None:
        if not change:
            return super().save_related(request, form, formsets, change)
        services.save_person(user=form.instance, groups=form.cleaned_data.get("groups"),
                             permissions=form.cleaned_data.get("user_permissions"))
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request, obj: User) -> None:
        services.delete_people(users=[obj])

    def delete_queryset(self, request, queryset: QuerySet[User]) -> None:
        services.delete_people(users=list(queryset))


@admin.register(Group)
class GroupAdmin(ServiceErrorsMixin, DjangoGroupAdmin):
    form = RoleForm

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return deleted, model_count, perms_needed, [*protected, *services.role_deletion_problems(groups=list(objs))]

    def save_model(self, request, obj: Group, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change: bool) -> None:
        if not change:
            return super().save_related(request, form, formsets, change)
        services.save_role(group=form.instance, permissions=form.cleaned_data.get("permissions"))

    def delete_model(self, request, obj: Group) -> None:
        services.delete_roles(groups=[obj])

    def delete_queryset(self, request, queryset: QuerySet[Group]) -> None:
        services.delete_roles(groups=list(queryset))

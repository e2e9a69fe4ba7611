"""Django admin for every catalog model (platform admins' escape hatch; writes bump the generation).

Every admin write is audited like any other: each ModelAdmin here (people's accounts and groups
included) is an AuditedAdmin, which appends an AuditEvent (`admin.add`, `admin.change`,
`admin.delete`) with the changed fields' old and new values, and one per inline row changed (a
membership's role, an environment). tests/test_admin_audit.py checks that every registered admin is one.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model, QuerySet
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest

from services import models
from services.audit import audit_record
from services.http.security import ThrottledAdminAuthenticationForm

SECRET_FIELDS = frozenset({"password", "digest", "password1", "password2"})
MAX_SHOWN = 200  # characters of one value kept in an event
_PENDING = "_slipway_admin_changes"


def _shown(value: Any) -> Any:
    """A value as the audit log keeps it: text, at most MAX_SHOWN characters; lists of such."""
    if isinstance(value, (list, tuple, set, QuerySet)):
        return sorted(_shown(item) for item in list(value)[:50])
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:MAX_SHOWN]


def form_changes(form: ModelForm) -> dict[str, list[Any]]:
    """{field: [before, after]} for the fields the form changed; secrets are named, never shown."""
    changes: dict[str, list[Any]] = {}
    for name in form.changed_data:
        if name in SECRET_FIELDS:
            changes[name] = ["(secret)", "(changed)"]
            continue
        field = form.fields.get(name)
        before = form.initial.get(name)
        if field is not None and hasattr(field, "queryset") and before is not None:
            before = list(field.queryset.filter(pk__in=before if isinstance(before, (list, tuple)) else [before]))
            before = before if isinstance(form.initial.get(name), (list, tuple)) else (before[0] if before else None)
        changes[name] = [_shown(before), _shown(form.cleaned_data.get(name))]
    return changes


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose every write appends an audit event (module docstring)."""

    def save_model(self, request: HttpRequest, obj: Model, form: ModelForm, change: bool) -> None:
        changes = form_changes(form)
        super().save_model(request, obj, form, change)
        request.__dict__.setdefault(_PENDING, {})[(obj._meta.label, obj.pk)] = changes

    def save_formset(self, request: HttpRequest, form: ModelForm, formset: BaseModelFormSet, change: bool) -> None:
        rows = [(row, form_changes(row)) for row in formset.forms if row.has_changed() and row not in formset.deleted_forms]
        deleted = [row.instance for row in formset.deleted_forms if row.instance.pk is not None]
        super().save_formset(request, form, formset, change)
        for row, changes in rows:
            if row.instance.pk is not None and changes:
                audit_record(actor=request.user, action="admin.change" if row.initial else "admin.add",
                             obj=row.instance, changes=changes)
        for instance in deleted:
            audit_record(actor=request.user, action="admin.delete", obj=instance, changes={})

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, obj, "admin.add", message)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        self._audit(request, obj, "admin.change", message)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            audit_record(actor=request.user, action="admin.delete", obj=obj, changes={})
        return super().log_deletions(request, queryset)

    def _audit(self, request: HttpRequest, obj: Model, action: str, message: Any) -> None:
        changes = getattr(request, _PENDING, {}).pop((obj._meta.label, obj.pk), None)
        if not changes and message:
            # The admin's own words for what changed, e.g. "Changed Password." (a password form).
            text = message if isinstance(message, str) else LogEntry(change_message=json.dumps(message)).get_change_message()
            changes = {"message": [None, text[:MAX_SHOWN]]}
        audit_record(actor=request.user, action=action, obj=obj, changes=changes or {})


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    """People's accounts: staff and superuser status, activation and passwords are audited too."""


@admin.register(Group)
class GroupAdmin(AuditedAdmin, auth_admin.GroupAdmin):
    pass

# The admin's sign-in shares the portal's sign-in limits (they live in authenticate()); this form
# says so when they refuse, instead of "wrong password".
admin.site.login_form = ThrottledAdminAuthenticationForm


@admin.register(models.LinkedIdentity)
class LinkedIdentityAdmin(AuditedAdmin):
    """Single sign-on links: how an admin links an existing account (staff accounts are never linked
    automatically) or unlinks one claimed by mistake."""

    list_display = ["user", "issuer", "subject", "created_at", "last_used_at"]
    search_fields = ["user__username", "user__email", "subject"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at", "last_used_at"]


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(models.Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["slug", "name", "parent", "email", "on_call", "declared_by_import"]
    list_filter = ["declared_by_import", "team_type"]
    search_fields = ["slug", "name", "email"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["namespace"]  # part of the slug outside `default`: set by imports only
    inlines = [MembershipInline]


@admin.register(models.Profile)
class ProfileAdmin(AuditedAdmin):
    list_display = ["user", "display_name", "declared_by_import"]
    search_fields = ["user__username", "display_name"]


@admin.register(models.Domain)
class DomainAdmin(AuditedAdmin):
    list_display = ["slug", "name", "owner"]
    search_fields = ["slug", "name"]
    readonly_fields = ["namespace"]


@admin.register(models.System)
class SystemAdmin(AuditedAdmin):
    list_display = ["slug", "name", "domain", "owner"]
    search_fields = ["slug", "name"]
    readonly_fields = ["namespace"]


class EnvironmentInline(admin.TabularInline):
    model = models.Environment
    extra = 0


class DependencyInline(admin.TabularInline):
    model = models.ServiceDependency
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["target"]


@admin.register(models.Service)
class ServiceAdmin(AuditedAdmin):
    list_display = ["slug", "name", "owner_team", "owner_user", "type", "lifecycle", "tier", "repository", "archived"]
    list_filter = ["lifecycle", "type", "tier", "archived"]
    search_fields = ["slug", "name", "repository"]
    list_select_related = ["owner_team", "owner_user"]
    autocomplete_fields = ["owner_team", "owner_user", "system"]
    readonly_fields = ["namespace"]
    inlines = [EnvironmentInline, DependencyInline]


@admin.register(models.Api)
class ApiAdmin(AuditedAdmin):
    list_display = ["namespace", "slug", "type", "lifecycle", "owner_team", "definition_state"]
    list_filter = ["definition_state", "type"]
    search_fields = ["slug", "title"]
    autocomplete_fields = ["owner_team", "owner_user", "system"]
    # Who they are and what a worker fetched are not edited by hand: the descriptor and the refresh say.
    readonly_fields = ["namespace", "slug", "definition_state", "definition_error", "definition_etag",
                       "definition_fetched_at"]


@admin.register(models.Resource)
class ResourceAdmin(AuditedAdmin):
    list_display = ["namespace", "slug", "type", "owner_team"]
    list_filter = ["type"]
    search_fields = ["slug", "title"]
    autocomplete_fields = ["owner_team", "owner_user", "system"]
    readonly_fields = ["namespace", "slug"]


class RevisionInline(admin.TabularInline):
    """Revisions are the record of edits: shown, never changed."""

    model = models.RunbookRevision
    extra = 0
    fields = ["number", "title", "author", "created_at", "line_count", "diff_too_large"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False


@admin.register(models.Runbook)
class RunbookAdmin(AuditedAdmin):
    """A runbook's text is edited on its page (or the API), where every edit is rendered once, sanitized,
    and kept as a revision with its diff: here it is shown, not edited, so the stored HTML never goes
    stale."""

    list_display = ["title", "service", "last_reviewed", "updated_at"]
    search_fields = ["title", "service__slug"]
    list_select_related = ["service"]
    readonly_fields = ["body", "html", "html_title_end"]
    inlines = [RevisionInline]


@admin.register(models.Environment)
class EnvironmentAdmin(AuditedAdmin):
    list_display = ["service", "name", "url", "wait_timer"]
    search_fields = ["service__slug", "name"]
    list_select_related = ["service"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(AuditedAdmin):
    """Read-only: the audit log is append-only."""

    list_display = ["created_at", "actor_name", "action", "object_type", "object_repr", "source"]
    list_filter = ["source", "object_type", "action"]
    search_fields = ["actor_name", "object_repr", "request_id"]

    def has_add_permission(self, request):  # noqa: ANN001, ANN201
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False

    def has_delete_permission(self, request, obj=None):  # noqa: ANN001, ANN201
        return False

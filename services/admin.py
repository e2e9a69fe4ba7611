"""Django admin for every catalog model (platform admins' escape hatch; writes bump the generation)."""

from django.contrib import admin

from services import models


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "parent", "email", "on_call", "declared_by_import"]
    list_filter = ["declared_by_import", "team_type"]
    search_fields = ["slug", "name", "email"]
    autocomplete_fields = ["parent"]
    inlines = [MembershipInline]


@admin.register(models.Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "declared_by_import"]
    search_fields = ["user__username", "display_name"]


@admin.register(models.Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "owner"]
    search_fields = ["slug", "name"]


@admin.register(models.System)
class SystemAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "domain", "owner"]
    search_fields = ["slug", "name"]


class EnvironmentInline(admin.TabularInline):
    model = models.Environment
    extra = 0


class DependencyInline(admin.TabularInline):
    model = models.ServiceDependency
    fk_name = "service"
    extra = 0
    autocomplete_fields = ["target"]


@admin.register(models.Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "owner_team", "owner_user", "type", "lifecycle", "tier", "repository", "archived"]
    list_filter = ["lifecycle", "type", "tier", "archived"]
    search_fields = ["slug", "name", "repository"]
    list_select_related = ["owner_team", "owner_user"]
    autocomplete_fields = ["owner_team", "owner_user", "system"]
    inlines = [EnvironmentInline, DependencyInline]


class RevisionInline(admin.TabularInline):
    model = models.RunbookRevision
    extra = 0
    readonly_fields = ["number", "title", "body", "author", "created_at"]
    can_delete = False


@admin.register(models.Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = ["title", "service", "last_reviewed", "updated_at"]
    search_fields = ["title", "service__slug"]
    list_select_related = ["service"]
    inlines = [RevisionInline]


@admin.register(models.Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ["service", "name", "url", "wait_timer"]
    search_fields = ["service__slug", "name"]
    list_select_related = ["service"]


@admin.register(models.AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
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

"""Writes made in the Django admin are audited like any other: who, what, the values before and after."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client

from services.admin import AuditedAdmin
from services.models import AuditEvent, Environment, Membership
from tests.factories import EnvironmentFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def signed_in(root) -> Client:
    client = Client()
    client.force_login(root)
    return client


def events(action: str, object_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_type=object_type))


def test_every_registered_admin_is_audited():
    unaudited = [model._meta.label for model, model_admin in admin.site._registry.items()
                 if not isinstance(model_admin, AuditedAdmin)]
    assert unaudited == []


def test_deleting_an_environment_in_the_admin_is_audited(signed_in, root, service):
    environment = EnvironmentFactory(service=service, name="production")
    answer = signed_in.post(f"/admin/services/environment/{environment.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302 and not Environment.objects.exists()
    [event] = events("admin.delete", "environment")
    assert (event.actor, event.object_id, event.source) == (root, str(environment.pk), "web")
    assert event.request_id


def test_a_bulk_delete_action_is_audited_per_object(signed_in, service):
    first, second = EnvironmentFactory(service=service, name="a"), EnvironmentFactory(service=service, name="b")
    signed_in.post("/admin/services/environment/", {"action": "delete_selected", "_selected_action": [first.pk, second.pk],
                                                   "post": "yes"})
    assert sorted(e.object_id for e in events("admin.delete", "environment")) == sorted([str(first.pk), str(second.pk)])


def test_making_a_person_staff_is_audited_with_before_and_after(signed_in, root):
    person = UserFactory(username="pat")
    form = {"username": "pat", "first_name": "", "last_name": "", "email": "", "is_active": "on", "is_staff": "on",
            "last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "10:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "10:00:00"}
    answer = signed_in.post(f"/admin/auth/user/{person.pk}/change/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    person.refresh_from_db()
    assert person.is_staff
    [event] = events("admin.change", "user")
    assert event.actor == root and event.object_id == str(person.pk)
    assert event.changes["is_staff"] == [False, True]


def test_a_password_set_in_the_admin_is_audited_without_the_password(signed_in):
    person = UserFactory(username="pat")
    answer = signed_in.post(f"/admin/auth/user/{person.pk}/password/",
                          {"password1": "a-new-long-password-9", "password2": "a-new-long-password-9",
                           "usable_password": "true"})
    assert answer.status_code == 302
    [event] = events("admin.change", "user")
    assert "a-new-long-password-9" not in str(event.changes) and "password" in str(event.changes).lower()


def test_changing_a_members_role_in_the_team_admin_is_audited(signed_in, team):
    membership = MembershipFactory(team=team, user=UserFactory(username="mo"), role=Membership.Role.MEMBER)
    form = {"slug": team.slug, "name": team.name, "description": "", "email": "", "chat_channel": "", "on_call": "",
            "github_team": "", "team_type": team.team_type,
            "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(membership.pk), "memberships-0-team": str(team.pk),
            "memberships-0-user": str(membership.user.pk), "memberships-0-role": Membership.Role.LEAD}
    answer = signed_in.post(f"/admin/services/team/{team.pk}/change/", form)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    membership.refresh_from_db()
    assert membership.role == Membership.Role.LEAD
    [event] = events("admin.change", "membership")
    assert event.changes == {"role": [Membership.Role.MEMBER, Membership.Role.LEAD]}
    assert events("admin.change", "team")  # the team's own change, naming the inline


def test_a_runbooks_text_is_not_edited_in_the_admin(signed_in, service):
    # Its HTML is rendered once, when the page or the API saves it: the admin only shows it.
    from tests.factories import RunbookFactory

    runbook = RunbookFactory(service=service, body="# Old")
    page = signed_in.get(f"/admin/services/runbook/{runbook.pk}/change/").content.decode()
    assert 'name="body"' not in page and 'name="html"' not in page

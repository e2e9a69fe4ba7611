"""platform/postgres/app-role.sql: connected with the portal's runtime role, the database itself refuses
to change or remove audit events, and allows everything else the portal does (PostgreSQL only)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from django.db import connection

from services.audit import audit_record
from services.models import AuditEvent
from tests.factories import ServiceFactory, UserFactory

SQL = Path(__file__).resolve().parents[1] / "platform" / "postgres" / "app-role.sql"

pytestmark = [
    pytest.mark.django_db(transaction=True),  # the role's connection sees committed rows only
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's"),
]


@pytest.fixture
def app_role():
    """The file applied with a role of the test's own name; the role is dropped afterwards."""
    import psycopg

    role = f"slipway_app_test_{secrets.token_hex(4)}"
    script = SQL.read_text().replace("slipway_app", role)
    with connection.cursor() as cursor:
        cursor.execute(script)
        cursor.execute(script)  # rerunning it is harmless
    settings = connection.settings_dict
    conninfo = {"dbname": settings["NAME"], "user": role, "host": settings["HOST"] or "127.0.0.1",
                "port": settings["PORT"] or 5432}
    as_app = psycopg.connect(**conninfo, autocommit=True)
    try:
        yield as_app
    finally:
        as_app.close()
        with connection.cursor() as cursor:
            cursor.execute(f'DROP OWNED BY "{role}"; DROP ROLE "{role}"')


def _refused(as_app, sql: str, *params) -> bool:
    import psycopg

    try:
        as_app.execute(sql, params)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_the_runtime_role_appends_to_the_audit_log_but_cannot_change_it(app_role):
    actor = UserFactory(username="ada")
    service = ServiceFactory(slug="ledger")
    audit_record(actor=actor, action="service.update", obj=service, changes={"name": ["a", "b"]})
    event = AuditEvent.objects.filter(action="service.update").latest("id")

    assert _refused(app_role, "UPDATE services_auditevent SET action = 'forged' WHERE id = %s", event.pk)
    assert _refused(app_role, "UPDATE services_auditevent SET changes = '{}' WHERE id = %s", event.pk)
    assert _refused(app_role, "DELETE FROM services_auditevent WHERE id = %s", event.pk)
    assert _refused(app_role, "TRUNCATE services_auditevent")
    assert AuditEvent.objects.get(pk=event.pk).action == "service.update"

    # What the portal does with the log still works: read, append, and forget a deleted user.
    count = app_role.execute("SELECT count(*) FROM services_auditevent").fetchone()[0]
    assert count == AuditEvent.objects.count()
    app_role.execute(
        "INSERT INTO services_auditevent (actor_name, action, object_type, object_id, object_repr, changes,"
        " source, request_id, created_at) VALUES ('ada', 'service.view', 'service', %s, 'ledger', '{}',"
        " 'command', '', now())", (str(service.pk),))
    assert AuditEvent.objects.filter(action="service.view").exists()
    app_role.execute("UPDATE services_auditevent SET actor_id = NULL WHERE actor_id = %s", (actor.pk,))
    assert AuditEvent.objects.get(pk=event.pk).actor_id is None
    assert AuditEvent.objects.get(pk=event.pk).actor_name == "ada"


def test_the_runtime_role_writes_the_rest_of_the_catalog(app_role):
    service = ServiceFactory(slug="ledger")
    app_role.execute("UPDATE services_service SET name = 'Ledger Two' WHERE id = %s", (service.pk,))
    app_role.execute("SELECT id FROM services_hostthrottle FOR UPDATE")  # the write throttle's row lock
    app_role.execute("DELETE FROM django_session")  # clearsessions
    app_role.execute("DELETE FROM services_service WHERE id = %s", (service.pk,))
    assert not type(service).objects.filter(pk=service.pk).exists()

"""Systems and domains through the service layer."""

from __future__ import annotations

import pytest

from services.catalog import writes
from services.errors import InvalidInput
from services.models import AuditEvent, System

pytestmark = pytest.mark.django_db


def test_upserts_create_then_change_only_what_differs_and_audit_it(team):
    writes.domain_upsert(actor=None, slug="money", name="Money", owner="payments")
    system = writes.system_upsert(actor=None, slug="ledgers", domain="money", owner="group:payments")
    assert (system.domain.slug, system.owner.slug) == ("money", "payments")
    writes.system_upsert(actor=None, slug="ledgers", domain="money", owner="group:payments")  # unchanged
    writes.system_upsert(actor=None, slug="ledgers", name="Ledgers", domain="money", owner="group:payments")
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        "domain.create", "system.create", "system.update"]
    assert System.objects.get(slug="ledgers").name == "Ledgers"


def test_an_unknown_domain_or_owner_is_refused_naming_it(team):
    with pytest.raises(InvalidInput) as caught:
        writes.system_upsert(actor=None, slug="ledgers", domain="nowhere")
    assert "domain" in caught.value.errors
    with pytest.raises(InvalidInput) as caught:
        writes.domain_upsert(actor=None, slug="money", owner="ghosts")
    assert "owner" in caught.value.errors
    assert not System.objects.exists()

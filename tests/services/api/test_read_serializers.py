"""services.api.serializers.ReadSerializer builds rows from a per-serializer plan instead of DRF's
per-field steps: every read shape must answer exactly what DRF's own to_representation answers, on
data with every optional part present and absent."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from services.api import scaffolder, tokens
from services.api import serializers as s
from services.catalog.reads import service_detail, service_list, team_detail
from services.models import (
    ApiToken,
    Domain,
    Environment,
    Membership,
    Profile,
    Runbook,
    Service,
    ServiceDependency,
    System,
    Team,
)
from tests.factories import (
    EnvironmentFactory,
    MembershipFactory,
    RunbookFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
    token_for,
)


@pytest.fixture
def varied(db):
    """A catalog with each optional part both set and missing."""
    parent = TeamFactory(slug="platform", name="Platform")
    team = TeamFactory(slug="payments", name="Payments", parent=parent, github_team_slug="payments-gh")
    lead = UserFactory(username="lee", first_name="Lee", last_name="Lead")
    Profile.objects.create(user=lead, display_name="Lee the Lead")
    plain = UserFactory(username="pat")
    MembershipFactory(user=lead, team=team, role=Membership.Role.LEAD)
    MembershipFactory(user=plain, team=team)
    domain = Domain.objects.create(slug="money", name="Money", owner=team)
    system = System.objects.create(slug="books", name="Books", domain=domain, owner=team)
    System.objects.create(slug="loose", name="Loose")
    Domain.objects.create(slug="empty", name="Empty")
    ledger = ServiceFactory(slug="ledger", owner_team=team, system=system, tier=1, lifecycle="production",
                            links=[{"url": "https://x.example", "title": "X"}], annotations={"a": "b"})
    mine = ServiceFactory(slug="mine", owner_team=None, owner_user=lead, repository="", tags=[])
    ServiceFactory(slug="theirs", owner_team=None, owner_user=plain, archived=True, tier=None)
    ServiceDependency.objects.create(service=ledger, target=mine, target_ref="component:default/mine")
    ServiceDependency.objects.create(service=ledger, target_ref="component:default/not-yet")
    ServiceDependency.objects.create(service=mine, target=ledger, target_ref="component:default/ledger")
    EnvironmentFactory(service=ledger, name="production", required_reviewers=["payments"], wait_timer=5)
    EnvironmentFactory(service=mine, name="staging")
    RunbookFactory(service=ledger, last_reviewed=datetime.date(2026, 1, 2))
    RunbookFactory(service=mine)
    token_for(lead)
    ApiToken.objects.filter(user=lead).update(expires_at=timezone.now() + datetime.timedelta(days=3),
                                              last_used_at=timezone.now())
    token_for(plain)
    return {"team": team, "ledger": ledger}


def _request() -> Request:
    return Request(APIRequestFactory().get("/api/v1/services/"))


def _both(serializer_class: type, instances: list) -> tuple[list, list]:
    """(ReadSerializer's rows, DRF ModelSerializer's rows) for the same instances and context."""
    context = {"request": _request()}
    fast = [dict(row) for row in serializer_class(instances, many=True, context=context).data]
    child = serializer_class(context={"request": _request()})
    stock = [dict(serializers.ModelSerializer.to_representation(child, instance)) for instance in instances]
    return fast, stock


READ_SHAPES = [
    (s.ServiceSerializer, lambda: list(Service.objects.order_by("slug"))),
    (s.ServiceDetailSerializer, lambda: [service_detail(slug) for slug in ("ledger", "mine", "theirs")]),
    (s.TeamSerializer, lambda: list(Team.objects.select_related("parent").order_by("slug"))),
    (s.TeamDetailSerializer, lambda: [team_detail(slug) for slug in ("payments", "platform")]),
    (s.TeamServiceSerializer, lambda: list(Service.objects.order_by("slug"))),
    (s.MemberSerializer, lambda: list(Membership.objects.select_related("user").order_by("pk"))),
    (s.EnvironmentSerializer, lambda: list(Environment.objects.order_by("pk"))),
    (s.RunbookSummarySerializer, lambda: list(Runbook.objects.order_by("pk"))),
    (s.RunbookSerializer, lambda: list(Runbook.objects.order_by("pk"))),
    (s.SystemSerializer, lambda: list(System.objects.order_by("slug"))),
    (s.DomainSerializer, lambda: list(Domain.objects.order_by("slug"))),
    (s.DependentSerializer, lambda: list(ServiceDependency.objects.order_by("pk"))),
    (tokens.ApiTokenSerializer, lambda: list(ApiToken.objects.order_by("pk"))),
]


@pytest.mark.parametrize(("serializer_class", "instances"), READ_SHAPES,
                         ids=[shape[0].__name__ for shape in READ_SHAPES])
def test_each_read_shape_answers_what_drf_answers(varied, serializer_class, instances):
    fast, stock = _both(serializer_class, instances())
    assert fast
    assert fast == stock


def test_every_read_serializer_is_compared():
    compared = {shape[0] for shape in READ_SHAPES}
    every = {value for module in (s, scaffolder, tokens) for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, s.ReadSerializer) and value is not s.ReadSerializer}
    # Runs (they need a golden-path template) and a new token's one-time answer are not built here;
    # the runs and tokens API tests check their answers field by field.
    assert every - compared <= {scaffolder.RunSerializer, scaffolder.RunDetailSerializer, scaffolder.RunStepSerializer,
                                tokens.ApiTokenCreatedSerializer}


class _WithMissing(s.ReadSerializer):
    missing = serializers.CharField(source="no_such_attribute", read_only=True)
    parent_slug = serializers.CharField(source="parent.slug", read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "missing", "parent_slug"]


def test_a_field_drf_leaves_out_is_left_out(varied):
    """A read-only field whose attribute does not exist: DRF leaves it out of the row (SkipField), and
    so does ReadSerializer, which takes DRF's own steps whenever getattr fails."""
    fast, stock = _both(_WithMissing, list(Team.objects.order_by("slug")))
    assert fast == stock == [{"slug": "payments", "parent_slug": "platform"}, {"slug": "platform"}]


def test_dependencies_of_a_page_are_read_in_one_query(varied, django_assert_num_queries):
    services = list(service_list().order_by("slug"))
    with django_assert_num_queries(1):
        rows = s.ServiceSerializer(services, many=True, context={"request": _request()}).data
    assert {row["slug"]: row["depends_on"] for row in rows} == {
        "ledger": [{"ref": "component:default/mine", "service": "mine"},
                   {"ref": "component:default/not-yet", "service": None}],
        "mine": [{"ref": "component:default/ledger", "service": "ledger"}],
        "theirs": [],
    }

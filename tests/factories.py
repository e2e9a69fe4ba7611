"""factory_boy factories for the catalog models."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from services.catalog.markdown import render_runbook
from services.models import Environment, Membership, Runbook, Service, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"person-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")


def token_for(user) -> str:
    """A new API token of `user`; answers its key."""
    from services.access.tokens import token_create

    return token_create(actor=None, user=user, name="tests")[1]


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    slug = factory.Sequence(lambda n: f"team-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    email = factory.LazyAttribute(lambda o: f"{o.slug}@example.org")
    chat_channel = factory.LazyAttribute(lambda o: f"#{o.slug}")
    on_call = factory.LazyAttribute(lambda o: f"https://oncall.example.org/{o.slug}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = Membership.Role.MEMBER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    description = factory.LazyAttribute(lambda o: f"The {o.slug} service")
    owner_team = factory.SubFactory(TeamFactory)
    repository = factory.LazyAttribute(lambda o: f"github.com/acme/{o.slug}")
    tags = factory.LazyFunction(lambda: ["python"])
    lifecycle = "production"  # the model says experimental; most of a real catalog is in production


class RunbookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Runbook

    service = factory.SubFactory(ServiceFactory)
    slug = factory.Sequence(lambda n: f"runbook-{n}")
    title = "Restart the service"
    body = "# Restart\n\nRun `kubectl rollout restart`."
    # As catalog.writes keeps them: the pages show the HTML rendered when saved.
    html = factory.LazyAttribute(lambda o: render_runbook(o.body, title=o.title).html)
    html_title_end = factory.LazyAttribute(lambda o: render_runbook(o.body, title=o.title).title_end)


class EnvironmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Environment

    service = factory.SubFactory(ServiceFactory)
    name = factory.Sequence(lambda n: f"env-{n}")

"""Catalog search: the filter sets of the catalog's lists, shared by the API and the pages, and the
words-as-you-type search of the home page.

Every list filter follows one rule: a value that cannot be well formed (too long, characters the field
never holds, an unknown choice) is a 400 naming the parameter; a well-formed value that no row has is a
true answer, an empty list. Lifecycle and type are free text (as in Backstage), so any short line of
text is a well-formed one; slugs, tags, owners and names are held to their formats (catalog/refs.py).

The word filter reads Service.search, a column the database keeps (UPPER of slug, name and
description; one trigram index on PostgreSQL): one LIKE per word instead of three UPPER()s per row."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Upper

from services.catalog.refs import (
    ENVIRONMENT_NAME_PATTERN,
    ENVIRONMENT_NAME_RULE,
    NAME_PATTERN,
    NAME_RULE,
    SLUG_PATTERN,
    SLUG_RULE,
    TAG_PATTERN,
    TAG_RULE,
)
from services.models import Environment, Runbook, Service, Team

User = get_user_model()

MAX_SEARCH = 200  # characters of a `q` (its first 8 words are matched); the pages cut theirs there too
UNKNOWN_IS_EMPTY = " A well-formed value that no row has answers an empty list; a malformed one is a 400."
# `team`, `group:team`, `group:default/team`, `jane` or `user:jane` (usernames: letters, digits and . _ @ + -).
_OWNER = re.compile(r"(?:(?:user|group):)?(?:[a-z0-9-]+/)?[\w.@+-]{1,150}")
OWNER_RULE = "a team slug, group:<team>, a username or user:<username> (letters, digits and . _ @ + -)"


class Format:
    """A filter value's format, checked before any query: a value no row can have is a 400 naming the
    parameter, in words; never a silent empty list, nor a database error (SQLite refuses a LIKE
    pattern over 50,000 bytes). `lowercase`: the filter ignores case, so the value is checked lowered;
    `words`: whitespace of any kind separates words (no other control character is allowed)."""

    def __init__(self, rule: str, *, max_length: int, pattern: re.Pattern[str] | None = None,
                 lowercase: bool = False, words: bool = False) -> None:
        self.rule, self.max_length, self.pattern, self.lowercase, self.words = rule, max_length, pattern, lowercase, words

    def __call__(self, value: str) -> None:
        text = value.strip().lower() if self.lowercase else value.strip()
        controls = [char for char in text if unicodedata.category(char) == "Cc" and not (self.words and char.isspace())]
        if len(text) > self.max_length or controls or (self.pattern is not None and not self.pattern.fullmatch(text)):
            raise ValidationError(self.rule)


def text_format(max_length: int, what: str) -> Format:
    """Free text: well formed up to `max_length` characters (the column's size) without control characters."""
    return Format(f"{what} is at most {max_length} characters on one line, without control characters",
                  max_length=max_length)


def _checked(format_: Format, help_text: str, **kwargs: Any) -> django_filters.CharFilter:
    """A text filter whose value is checked against `format_`, its help saying what an unknown value answers."""
    return django_filters.CharFilter(validators=[format_], help_text=help_text + UNKNOWN_IS_EMPTY, **kwargs)


SERVICE_SLUG = Format(f"a service slug is {SLUG_RULE}", max_length=63, pattern=SLUG_PATTERN, lowercase=True)
TEAM_SLUG = Format(f"a slug is {NAME_RULE}", max_length=63, pattern=NAME_PATTERN, lowercase=True)
SEARCH = Format(f"search words are at most {MAX_SEARCH} characters in all, without control characters",
                max_length=MAX_SEARCH, words=True)
STRICT_BOOLEAN = [("true", "true"), ("false", "false")]


class ServiceFilter(django_filters.FilterSet):
    owner = _checked(Format(OWNER_RULE, max_length=160, pattern=_OWNER, lowercase=True), method="filter_owner",
                     help_text="Team slug, group:<team>, username, or user:<username>.")
    lifecycle = _checked(text_format(100, "a lifecycle"), field_name="lifecycle", lookup_expr="iexact",
                         help_text="Free text, as in Backstage (production, experimental, deprecated...): any value "
                                   "of at most 100 characters on one line, matched ignoring case.")
    type = _checked(text_format(100, "a type"), field_name="type", lookup_expr="iexact",
                    help_text="Free text, as in Backstage (service, website, library...): any value of at most 100 "
                              "characters on one line, matched ignoring case.")
    tier = django_filters.TypedChoiceFilter(
        field_name="tier", choices=[(str(n), str(n)) for n in (1, 2, 3)], coerce=int,
        error_messages={"invalid_choice": "a tier is 1, 2 or 3 (1 is the most critical)"}, help_text="1, 2 or 3.")
    tag = _checked(Format(f"a tag is {TAG_RULE}", max_length=63, pattern=TAG_PATTERN, lowercase=True),
                   method="filter_tag", help_text="Services carrying this tag.")
    system = _checked(TEAM_SLUG, field_name="system__slug", lookup_expr="iexact", help_text="A system's slug.")
    language = _checked(text_format(50, "a language"), field_name="language", lookup_expr="iexact",
                        help_text="Free text of at most 50 characters, matched ignoring case.")
    q = django_filters.CharFilter(method="filter_search", validators=[SEARCH],
                                  help_text=f"Words found in the slug, name or description (at most {MAX_SEARCH} "
                                            "characters; the first 8 words count).")
    archived = django_filters.ChoiceFilter(
        choices=STRICT_BOOLEAN, method="filter_archived", error_messages={"invalid_choice": "true or false"},
        help_text="true: only archived services; default false (archived are hidden).",
    )

    class Meta:
        model = Service
        fields: list[str] = []

    def filter_queryset(self, queryset: QuerySet[Service]) -> QuerySet[Service]:
        if not self.form.cleaned_data.get("archived"):
            queryset = queryset.filter(archived=False)
        return super().filter_queryset(queryset)

    def filter_archived(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        return queryset.filter(archived=value == "true")

    def filter_owner(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # The owner is looked up first and the services matched by key: a join with an OR across
        # two tables cannot use the owner indexes (PostgreSQL scanned all 10,000 services, twice:
        # count and page, ~25 ms); by key it is an index read.
        value = value.strip().lower()
        kind, _, rest = value.partition(":")
        team_slug = user_name = None
        if rest and kind == "user":
            user_name = rest
        elif rest and kind == "group":
            team_slug = rest.split("/")[-1]
        else:
            team_slug = user_name = value
        owners = Q(pk__in=[])
        if team_slug is not None:
            team_ids = list(Team.objects.filter(slug=team_slug).values_list("pk", flat=True))
            if team_ids:
                owners |= Q(owner_team_id__in=team_ids)
        if user_name is not None:
            user_ids = list(User.objects.filter(username__iexact=user_name).values_list("pk", flat=True))
            if user_ids:
                owners |= Q(owner_user_id__in=user_ids)
        return queryset.filter(owners)

    def filter_tag(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Tags are a JSON list; matching the quoted tag in its text works on SQLite and PostgreSQL.
        return queryset.filter(tags__icontains=f'"{value.strip().lower()}"')

    def filter_search(self, queryset: QuerySet[Service], name: str, value: str) -> QuerySet[Service]:
        # Service.search is UPPER(slug, name and description); the word is upper-cased by the same
        # database function, so both sides agree on every character (SQLite's UPPER is ASCII-only).
        for word in value.split()[:8]:
            queryset = queryset.filter(search__contains=Upper(Value(word)))
        return queryset


class TeamFilter(django_filters.FilterSet):
    parent = _checked(TEAM_SLUG, field_name="parent__slug", lookup_expr="iexact", help_text="The parent team's slug.")
    q = django_filters.CharFilter(method="filter_search", validators=[SEARCH],
                                  help_text=f"Text found in the slug or name (at most {MAX_SEARCH} characters).")
    # A strict choice: django-filter's BooleanFilter quietly ignores a value it cannot read (?x=maybe).
    declared_by_import = django_filters.TypedChoiceFilter(
        choices=STRICT_BOOLEAN, coerce=lambda value: value == "true", error_messages={"invalid_choice": "true or false"},
        help_text="true: only teams declared by a catalog import (no members recorded); false: the others.")

    class Meta:
        model = Team
        fields: list[str] = []

    def filter_search(self, queryset: QuerySet[Team], name: str, value: str) -> QuerySet[Team]:
        return queryset.filter(Q(slug__icontains=value) | Q(name__icontains=value))


class RunbookFilter(django_filters.FilterSet):
    service = _checked(SERVICE_SLUG, field_name="service__slug", lookup_expr="iexact", help_text="A service's slug.")

    class Meta:
        model = Runbook
        fields: list[str] = []


class EnvironmentFilter(django_filters.FilterSet):
    service = _checked(SERVICE_SLUG, field_name="service__slug", lookup_expr="iexact", help_text="A service's slug.")
    name = _checked(Format(f"an environment name is {ENVIRONMENT_NAME_RULE}", max_length=100,
                           pattern=ENVIRONMENT_NAME_PATTERN), field_name="name", lookup_expr="iexact",
                    help_text="An environment name, matched ignoring case.")

    class Meta:
        model = Environment
        fields: list[str] = []


def catalog_search(text: str, *, limit: int = 8) -> dict[str, list[Any]]:
    """Services, teams and people whose names contain every word of `text` (at most `limit` of each)."""
    words = str(text).split()[:8]
    if not words:
        return {"services": [], "teams": [], "people": []}
    services, teams, people = Service.objects.filter(archived=False), Team.objects.all(), User.objects.filter(is_active=True)
    for word in words:
        services = services.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        teams = teams.filter(Q(slug__icontains=word) | Q(name__icontains=word))
        people = people.filter(Q(username__icontains=word) | Q(first_name__icontains=word)
                               | Q(last_name__icontains=word) | Q(profile__display_name__icontains=word))
    return {
        "services": list(services.select_related("owner_team", "owner_user").order_by("slug")[:limit]),
        "teams": list(teams.order_by("slug")[:limit]),
        "people": list(people.select_related("profile").order_by("username")[:limit]),
    }

"""Web forms: they parse and validate what a person typed; the rules and the writes live in services/catalog/writes.py."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from services.catalog.markdown import MAX_BODY_CHARS
from services.catalog.refs import MAX_TEXT, TAG_PATTERN, TAG_RULE, near_miss
from services.models import WELL_KNOWN_LIFECYCLES, WELL_KNOWN_TYPES, Membership, Runbook, Service, Team

MAX_TAGS = 50
MAX_LINKS = 100
_url_validator = URLValidator(schemes=["http", "https"])


def _single_line(value: str, field: str) -> str:
    if any(char in value for char in "\r\n\t\x00"):
        raise ValidationError(f"{field} is one line of text.")
    return value


class ServiceForm(forms.Form):
    """The fields of a service its owners edit on the service page."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 3}))
    lifecycle = forms.CharField(
        max_length=100, required=False, help_text=f"For example {', '.join(WELL_KNOWN_LIFECYCLES)}.",
        widget=forms.TextInput(attrs={"list": "lifecycle-choices"}),
    )
    type = forms.CharField(
        max_length=100, required=False, help_text=f"For example {', '.join(WELL_KNOWN_TYPES)}.",
        widget=forms.TextInput(attrs={"list": "type-choices"}),
    )
    tier = forms.TypedChoiceField(
        choices=[("", "Not set"), ("1", "1 — most critical"), ("2", "2"), ("3", "3 — least critical")],
        coerce=int, empty_value=None, required=False,
    )
    language = forms.CharField(max_length=50, required=False)
    tags = forms.CharField(
        max_length=4000, required=False,
        help_text="Separated by commas or spaces; each is lowercase letters, digits and : + #, in words joined by "
                  "single hyphens.",
    )
    links = forms.CharField(
        max_length=MAX_LINKS * 2300, required=False, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One link per line: an http(s) URL, then an optional title.",
    )

    lifecycle_choices = WELL_KNOWN_LIFECYCLES
    type_choices = WELL_KNOWN_TYPES

    @classmethod
    def for_service(cls, service: Service, data: Any = None) -> ServiceForm:
        """The form filled with the service's current values (or bound to `data`)."""
        initial = {
            "name": service.name, "description": service.description, "lifecycle": service.lifecycle,
            "type": service.type, "tier": service.tier, "language": service.language,
            "tags": ", ".join(str(tag) for tag in service.tags or []),
            "links": "\n".join(
                f"{link.get('url', '')} {link.get('title', '')}".strip()
                for link in service.links or [] if isinstance(link, dict)
            ),
        }
        form = cls(data=data, initial=initial)
        form.service = service
        return form

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.confirmations: dict[str, str] = {}  # field -> the near miss to keep if it is sent again

    def clean_name(self) -> str:
        return _single_line(self.cleaned_data["name"].strip(), "The name")

    def _well_known(self, field: str, value: str, known: tuple[str, ...]) -> str:
        """A near miss of a well-known value is a question: saved as written only when sent again unchanged."""
        suggestion = near_miss(value, known)
        if suggestion is not None and self.data.get(f"confirmed_{field}") != value:
            self.confirmations[field] = value
            raise ValidationError(f"“{value}” is not a well-known {field}: did you mean “{suggestion}”? "
                                  f"Save again to keep “{value}” as written.")
        return value

    def clean_lifecycle(self) -> str:
        value = _single_line(self.cleaned_data["lifecycle"].strip(), "The lifecycle")
        return self._well_known("lifecycle", value, WELL_KNOWN_LIFECYCLES)

    def clean_type(self) -> str:
        value = _single_line(self.cleaned_data["type"].strip(), "The type")
        return self._well_known("type", value, WELL_KNOWN_TYPES)

    def clean_language(self) -> str:
        return _single_line(self.cleaned_data["language"].strip(), "The language")

    def clean_tags(self) -> list[str]:
        tags = [tag for tag in self.cleaned_data["tags"].replace(",", " ").split() if tag]
        if len(tags) > MAX_TAGS:
            raise ValidationError(f"At most {MAX_TAGS} tags.")
        bad = [tag for tag in tags if len(tag) > 63 or not TAG_PATTERN.match(tag)]
        if bad:
            raise ValidationError(
                f"A tag is {TAG_RULE}; these are not: %(bad)s", params={"bad": ", ".join(bad[:5])},
            )
        return list(dict.fromkeys(tags))

    def clean_links(self) -> list[dict[str, str]]:
        lines = [line.strip() for line in self.cleaned_data["links"].splitlines() if line.strip()]
        if len(lines) > MAX_LINKS:
            raise ValidationError(f"At most {MAX_LINKS} links.")
        service = getattr(self, "service", None)
        current = (service.links or []) if service is not None else []
        existing = {link.get("url"): link for link in current if isinstance(link, dict)}
        links: list[dict[str, str]] = []
        for number, line in enumerate(lines, start=1):
            url, _, title = line.partition(" ")
            title = title.strip()
            try:
                if len(url) > 2000:
                    raise ValidationError("too long")
                _url_validator(url)
            except ValidationError:
                raise ValidationError(
                    "Line %(number)s: “%(url)s” is not an http or https URL.",
                    params={"number": number, "url": url[:100]},
                ) from None
            if len(title) > 200:
                raise ValidationError("Line %(number)s: a title is at most 200 characters.", params={"number": number})
            # Keep what the form does not show (icon, type) of a link that is still there.
            kept = {k: v for k, v in existing.get(url, {}).items() if k in ("icon", "type")}
            links.append({"url": url, **({"title": title} if title else {}), **kept})
        return links

    def changed_values(self) -> dict[str, Any]:
        """The cleaned values, for catalog.service_update (which records only what really changed)."""
        return dict(self.cleaned_data)


class RunbookForm(forms.Form):
    """A runbook's title and Markdown body, and whether the editor reviewed it today."""

    title = forms.CharField(max_length=200)
    body = forms.CharField(
        max_length=MAX_BODY_CHARS, required=False, strip=False,
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "true"}),
        help_text="Markdown. Raw HTML is not allowed; links must be http, https or mailto.",
    )
    reviewed = forms.BooleanField(required=False, label="I reviewed this runbook today")

    @classmethod
    def for_runbook(cls, runbook: Runbook, data: Any = None) -> RunbookForm:
        return cls(data=data, initial={"title": runbook.title, "body": runbook.body})

    def clean_title(self) -> str:
        return _single_line(self.cleaned_data["title"].strip(), "The title")

    def changed_values(self) -> dict[str, Any]:
        """Values for catalog.runbook_update / runbook_create."""
        values: dict[str, Any] = {"title": self.cleaned_data["title"], "body": self.cleaned_data["body"]}
        if self.cleaned_data.get("reviewed"):
            values["last_reviewed"] = timezone.localdate()
        return values


class RunbookCreateForm(RunbookForm):
    """A new runbook: as RunbookForm, with an optional slug (made from the title when empty)."""

    slug = forms.SlugField(max_length=100, required=False, help_text="Part of the runbook's address; "
                           "made from the title when empty.")
    field_order = ["title", "slug", "body", "reviewed"]

    def changed_values(self) -> dict[str, Any]:
        values = super().changed_values()
        values["slug"] = self.cleaned_data.get("slug") or ""
        return values


class TeamForm(forms.Form):
    """The fields of a team its leads edit; platform admins also see the structural ones."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 4}))
    email = forms.EmailField(required=False)
    chat_channel = forms.CharField(max_length=200, required=False, label="Chat",
                                   help_text="A channel name or a chat URL.")
    on_call = forms.CharField(max_length=500, required=False, label="On-call",
                              help_text="A rota name or a paging URL.")
    parent = forms.CharField(max_length=63, required=False, help_text="The team this one is part of (its slug).")
    github_team_slug = forms.CharField(max_length=100, required=False, label="GitHub team",
                                       help_text="Granted access to the repositories of services made for this team.")

    STRUCTURE = ("parent", "github_team_slug")

    @classmethod
    def for_team(cls, team: Team, *, structure: bool, data: Any = None) -> TeamForm:
        """The form filled with the team's values; without `structure` the admin-only fields are left out."""
        initial = {"name": team.name, "description": team.description, "email": team.email,
                   "chat_channel": team.chat_channel, "on_call": team.on_call,
                   "parent": team.parent.slug if team.parent else "", "github_team_slug": team.github_team_slug}
        form = cls(data=data, initial=initial)
        if not structure:
            for name in cls.STRUCTURE:
                form.fields.pop(name)
        return form

    def clean_name(self) -> str:
        return _single_line(self.cleaned_data["name"].strip(), "The name")

    def clean_chat_channel(self) -> str:
        return _single_line(self.cleaned_data["chat_channel"].strip(), "The chat channel")

    def clean_on_call(self) -> str:
        return _single_line(self.cleaned_data["on_call"].strip(), "On-call")

    def changed_values(self) -> dict[str, Any]:
        """The cleaned values, for catalog.team_update (which records only what really changed)."""
        return {name: value for name, value in self.cleaned_data.items() if name in self.changed_data}


class MemberForm(forms.Form):
    """Add a person to a team, or set their role (the team's leads)."""

    username = forms.CharField(max_length=150, label="Person", help_text="Their username.")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)

    def clean_username(self) -> str:
        return _single_line(self.cleaned_data["username"].strip(), "The username")


class OwnershipQueryForm(forms.Form):
    """The one box of the Who-owns page."""

    q = forms.CharField(
        max_length=500, label="Service, repository, URL or person",
        widget=forms.TextInput(attrs={"placeholder": "e.g. payments-api, github.com/acme/ledger, git@github.com:acme/ledger.git, mia",
                                      "autocomplete": "off", "spellcheck": "false"}),
    )

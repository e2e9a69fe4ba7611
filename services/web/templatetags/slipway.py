"""Template helpers of the web pages: safe link targets, people's names, query strings, navigation."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from services.catalog import reads, writes

register = template.Library()

LINK_SCHEMES = ("http", "https", "mailto")


@register.filter
def safe_href(url: Any) -> str:
    """The URL if it may be a link target (http, https, mailto), else "" — so a javascript: or data:
    URL stored in the catalog is shown as text, never made clickable."""
    text = str(url or "").strip()
    if not text or any(ord(char) < 32 for char in text):
        return ""
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    if scheme not in LINK_SCHEMES:
        return ""
    if scheme in ("http", "https") and not text.lower().startswith(f"{scheme}://"):
        return ""
    return text


@register.filter
def person_name(user: Any) -> str:
    """A person's display name (profile name, full name or username)."""
    return writes.person_name(user) if user is not None else ""


@register.filter
def runbook_stale(runbook: Any) -> bool:
    """Whether a runbook is due for review."""
    return reads.runbook_is_stale(runbook)


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (None or "" removes one): for sort and
    pagination links that keep the filters."""
    request = context.get("request")
    params = request.GET.copy() if request is not None else QueryDict(mutable=True)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def nav_link(context: dict[str, Any], href: str, label: str) -> str:
    """A main-navigation link, marked as the current page when the path is under `href`."""
    request = context.get("request")
    path = request.path if request is not None else ""
    current = path == href or (href != "/" and path.startswith(href))
    if current:
        return format_html('<a href="{}" aria-current="page">{}</a>', href, label)
    return format_html('<a href="{}">{}</a>', href, label)


ACTION_LABELS = {
    "service.create": "registered the service",
    "service.update": "changed",
    "service.archive": "archived the service",
    "runbook.create": "added runbook",
    "runbook.update": "edited runbook",
    "runbook.delete": "deleted runbook",
    "environment.create": "added environment",
    "environment.update": "changed environment",
    "environment.delete": "deleted environment",
}


@register.filter
def action_label(event: Any) -> str:
    """An audit event's action in words ("edited runbook")."""
    return ACTION_LABELS.get(event.action, event.action)


def _short(value: Any, limit: int = 80) -> str:
    if value in (None, "", [], {}):
        text = "—"
    elif isinstance(value, list):
        text = ", ".join(_short(item, 40) for item in value) or "—"
    elif isinstance(value, dict):
        text = str(value.get("url") or value.get("title") or ", ".join(f"{k}={v}" for k, v in value.items()))
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@register.filter
def change_items(event: Any) -> list[tuple[str, str]]:
    """An audit event's changes as (field, "old → new") pairs of plain text (escaped when shown).

    Updates record each changed field as [old, new]; other actions record plain values."""
    changes = event.changes
    if not isinstance(changes, dict):
        return []
    pairs = event.action.endswith(".update")
    items = []
    for field, value in list(changes.items())[:12]:
        if pairs and isinstance(value, list) and len(value) == 2:
            items.append((str(field), f"{_short(value[0])} → {_short(value[1])}"))
        else:
            items.append((str(field), _short(value)))
    return items


@register.filter
def thousands(number: Any) -> str:
    """12345 → "12,345"."""
    try:
        return f"{int(number):,}"
    except (TypeError, ValueError):
        return str(number)


@register.simple_tag
def options(choices: Any, selected: Any = None) -> SafeString:
    """<option> elements for (value, label) pairs, the one equal to `selected` selected: joined in
    Python, as the template loop over the catalog's 500 teams and 100 systems took a quarter of the
    catalog page's rendering (profiled)."""
    # html.escape is what django.utils.html.escape applies, without its lazy-string wrapper, which
    # was most of the cost of 1,200 calls a page (profiled).
    chosen = "" if selected is None else str(selected)
    return mark_safe("".join(  # noqa: S308 - every value and label is escaped
        f'<option value="{html.escape(str(value))}"{" selected" if str(value) == chosen else ""}>'
        f'{html.escape(str(label))}</option>'
        for value, label in choices))


_CATALOG_ROW = """    <tr>
      <td><a class="row-title" href="{}{}/">{}</a>
        <span class="muted small row-sub">{}{}</span></td>
      <td>{}</td>
      <td class="hide-sm">{}</td>
      <td class="hide-md">{}</td>
      <td class="hide-sm">{}</td>
      <td class="hide-md">{}</td>
      <td class="hide-md">{}</td>
    </tr>"""

@register.simple_tag
def catalog_rows(services: Any, service_url_prefix: str, team_url_prefix: str) -> SafeString:
    """The catalog table's rows (catalog.catalog_rows()), built in Python: the template loop over a
    page of 50 was the largest part of the catalog page's CPU (profiled). Every value is escaped as
    the template would (`_escape`)."""
    rows = []
    for service in services:
        if service.owner_team_id:
            team = service.owner_team
            owner = f'<a href="{_escape(team_url_prefix)}{_escape(team.slug)}/">{_escape(team.name)}</a>'
        else:
            owner = _escape(person_name(service.owner_user))
        lifecycle = (f'<span class="badge lifecycle-{_escape(slugify(service.lifecycle))}">'
                     f'{_escape(service.lifecycle)}</span>' if service.lifecycle else "")
        tags = "".join(f'<span class="tag">{_escape(tag)}</span> ' for tag in (service.tags or [])[:4])
        rows.append(_CATALOG_ROW.format(
            _escape(service_url_prefix), _escape(service.slug), _escape(service.name), _escape(service.slug),
            " · archived" if service.archived else "", owner, lifecycle, _escape(service.type),
            "" if service.tier is None else _escape(service.tier),
            _escape(service.system.name) if service.system_id else "", tags))
    return mark_safe("\n".join(rows))  # noqa: S308 - every value is escaped


def _escape(value: Any) -> str:
    """django.utils.html.conditional_escape without its lazy-string wrapper (a third of the rows'
    cost, profiled): a safe string as it is, anything else through html.escape, as Django does."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))

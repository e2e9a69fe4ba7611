"""Who owns this? A service, a repository URL in any form, or a person, pasted into one box."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from services.catalog import ownership, search
from services.errors import InvalidInput, NotFound
from services.web.base import LoginRequiredMixin
from services.web.catalog import SUGGESTIONS
from services.web.forms.catalog import (
    OwnershipQueryForm,
)

# ---------------------------------------------------------------------------------------------
# Who owns this?


def _ownership_candidates(text: str) -> list[tuple[str, str]]:
    """The lookups to try for what was pasted, most likely first.

    `user:jane`, `team:payments` (or `group:`) and `service:ledger` say what they are; otherwise the
    kind is guessed as the whoowns command does, and a bare word that is not a service may be a
    person or a team (or, with a dot, a repository on the default host)."""
    prefix, _, rest = text.partition(":")
    kinds = {"user": "user", "team": "team", "group": "team", "service": "service"}
    if prefix.lower() in kinds and rest.strip() and "/" not in rest:
        return [(kinds[prefix.lower()], rest.strip())]
    guessed = ownership.guess_lookup_kind(text)
    if guessed == "path":
        return [("path", text), ("repo", text)]
    if guessed == "repo":
        return [("repo", text)]
    candidates = [("service", text), ("user", text), ("team", text)]
    if "." in text:
        candidates.append(("repo", text))
    return candidates


class OwnershipView(LoginRequiredMixin, View):
    """Who owns this? One box for a service, a repository or any URL of it, a person or a team; the
    answer is the ownership API's, laid out for people."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = OwnershipQueryForm(request.GET or None)
        context: dict[str, Any] = {"form": form, "nav": "ownership"}
        if not request.GET:
            return render(request, "services/ownership.html", context)
        if not form.is_valid():
            return render(request, "services/ownership.html", context, status=400)
        text = form.cleaned_data["q"].strip()
        problem, looked_up = "", False
        for kind, value in _ownership_candidates(text):
            try:
                answer = ownership.ownership_answer(kind, value)
            except NotFound:
                looked_up = True
                continue
            except InvalidInput as error:
                problem = error.detail
                continue
            context.update(kind=kind, answer=answer)
            return render(request, "services/ownership.html", context)
        if problem and not looked_up:
            # Nothing could even be looked up (a repository URL that is not one): a bad value, said so.
            form.add_error("q", problem)
            return render(request, "services/ownership.html", context, status=400)
        suggestions = search.catalog_search(text.replace("/", " ").replace(":", " "), limit=SUGGESTIONS)
        named = [s for s in suggestions["services"] if s.name.lower() == text.lower()]
        if len(named) == 1:
            # A service's display name rather than its slug.
            context.update(kind="service", answer=ownership.ownership_answer("service", named[0].slug))
            return render(request, "services/ownership.html", context)
        context.update(not_found=True, query=text, problem=problem, suggestions=suggestions,
                       has_suggestions=any(suggestions.values()))
        return render(request, "services/ownership.html", context, status=404)

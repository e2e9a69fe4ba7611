"""The new-service wizard: choose a golden path, fill the form generated from its inputs, preview the
files, create. Calls the same scaffolder functions as the API (services/scaffolder/)."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views import View
from django_htmx.http import HttpResponseClientRedirect

from services.access.permissions import can_manage_templates, can_start_run, run_owner_teams
from services.errors import CatalogError, InvalidInput, NotFound
from services.models import ProvisioningRun, RunStep, Team
from services.scaffolder import namecheck, switches, templates
from services.scaffolder import runs as provisioning_runs
from services.web.forms.wizard import INPUT_PREFIX, NewServiceForm

RUNS_PER_PAGE = 25
NAME_FIELD = INPUT_PREFIX + templates.NAME_INPUT
STEP_TITLES = {
    "scaffold.render": "Render the project files",
    "repo.create": "Create the repository",
    "repo.push": "Push the first commit",
    "repo.grant_team": "Give the owner team access",
    "env.create": "Create the {name} environment",
    "repo.protect_branch": "Protect the main branch",
    "catalog.register": "Register the service in the catalog",
}


# ---------------------------------------------------------------------------------------------
# Formatting helpers.


def duration_text(seconds: float | None) -> str:
    """A short human duration: 0.4 s, 12 s, 3 min 05 s, 1 h 02 min."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def elapsed(start: datetime.datetime | None, end: datetime.datetime | None, now: datetime.datetime,
             *, running: bool) -> float | None:
    if start is None:
        return None
    if end is not None:
        return max(0.0, (end - start).total_seconds())
    return max(0.0, (now - start).total_seconds()) if running else None


def step_title(step: RunStep) -> str:
    title = STEP_TITLES.get(step.action, step.action)
    return title.format(name=(step.params or {}).get("name", "")) if "{name}" in title else title


def service_url(slug: str) -> str:
    """The new service's page (served by the catalog pages)."""
    try:
        return reverse("services:service_detail", kwargs={"slug": slug})
    except NoReverseMatch:
        return f"/services/{slug}/"


def _template_or_404(name: str) -> templates.Template:
    try:
        return templates.template_get(name)
    except NotFound:
        raise Http404(f"No golden path named '{name}'.") from None


def _bad_request_status(error: CatalogError) -> int:
    return error.status if error.status in (400, 409) else 400


class PartialLoginRequiredMixin(LoginRequiredMixin):
    """For fragments fetched by htmx: a signed-out browser goes to the sign-in page as a whole,
    instead of having it swapped into a part of the page."""

    def handle_no_permission(self) -> HttpResponse:
        htmx = getattr(self.request, "htmx", None)
        if htmx and not self.request.user.is_authenticated:
            login = redirect_to_login(htmx.current_url_abs_path or "/")
            return HttpResponseClientRedirect(login["Location"])
        return super().handle_no_permission()


# ---------------------------------------------------------------------------------------------
# The wizard.


class TemplateListView(LoginRequiredMixin, View):
    """Step 1: choose a golden path."""

    def get(self, request: HttpRequest) -> HttpResponse:
        known = switches.switches()
        choices = [(template, switches.off_note(template.name, known))
                   for template in templates.template_list()]
        return render(request, "wizard/template_list.html", {
            "templates": choices, "can_switch": can_manage_templates(request.user)})


class TemplateSwitchView(LoginRequiredMixin, View):
    """Turn a golden path off (with a note for its users) or on again: platform admins, from the list."""

    def post(self, request: HttpRequest, template: str) -> HttpResponse:
        definition = _template_or_404(template)
        if not can_manage_templates(request.user):
            raise PermissionDenied("Only platform admins may turn golden paths on or off.")
        enabled = request.POST.get("enabled") == "1"
        try:
            switches.template_switch(actor=request.user, name=definition.name, enabled=enabled,
                                              note="" if enabled else request.POST.get("note", "").strip())
        except CatalogError as error:
            messages.error(request, "; ".join(r for reasons in error.errors.values() for r in reasons) or error.detail)
        else:
            messages.success(request, f"{definition.title} is turned {'on' if enabled else 'off'}.")
        return redirect("wizard:template_list")


def _template_off_page(request: HttpRequest, definition: templates.Template) -> HttpResponse | None:
    """The answer for a template a platform admin turned off (None when it is on)."""
    note = switches.off_note(definition.name)
    if note is None:
        return None
    return render(request, "wizard/template_off.html", {"template": definition, "note": note}, status=409)


class ServiceCreateView(LoginRequiredMixin, View):
    """Step 2: the form generated from the template's inputs; step 3: the preview; then the run."""

    def get(self, request: HttpRequest, template: str) -> HttpResponse:
        definition = _template_or_404(template)
        if (off := _template_off_page(request, definition)) is not None:
            return off
        teams = list(run_owner_teams(request.user))
        form = NewServiceForm(template=definition, teams=teams, initial=self._answers_of(request, definition))
        return self._form_page(request, form, teams)

    @staticmethod
    def _answers_of(request: HttpRequest, definition: templates.Template) -> dict[str, Any]:
        """`?from=<run id>`: start again with the answers of an earlier run of this template (a failed
        one, say, whose name turned out to be taken), to change what needs changing."""
        run_id = request.GET.get("from", "")
        try:
            run = ProvisioningRun.objects.select_related("owner").filter(
                pk=uuid.UUID(run_id), template=definition.name).first() if run_id else None
        except ValueError:
            run = None
        if run is None:
            return {}
        return {**{f"{INPUT_PREFIX}{key}": value for key, value in (run.inputs or {}).items()},
                "owner": run.owner.slug}

    def post(self, request: HttpRequest, template: str) -> HttpResponse:
        definition = _template_or_404(template)
        if (off := _template_off_page(request, definition)) is not None:
            return off
        teams = list(run_owner_teams(request.user))
        form = NewServiceForm(request.POST, template=definition, teams=teams)
        action = request.POST.get("action", "preview")
        if action == "back":
            return self._form_page(request, form, teams)
        form.is_valid()  # parses the posted text; the service layer judges the values below
        owner = form.cleaned_data.get("owner", "")
        team = Team.objects.filter(slug=owner.lower()).first() if owner else None
        if owner and team is None:
            form.add_error("owner", f"no team '{owner}'")
        if team is not None and not can_start_run(request.user, team=team):
            raise PermissionDenied(f"Only members of {team.name} (or staff) may create services for it.")
        if action == "create" and form.is_valid():
            return self._create(request, form, team, teams)
        values = self._validate(form)
        # Like run_create, but answered before the user has even seen the files.
        if values is not None and not form.errors and (
                problem := provisioning_runs.service_name_problem(values[templates.NAME_INPUT])):
            form.add_error(NAME_FIELD, problem)
        if form.errors:
            return self._form_page(request, form, teams, status=400)
        try:
            preview = provisioning_runs.run_preview(template=definition.name, owner=team.slug, inputs=form.inputs())
        except CatalogError as error:
            form.add_service_errors(error.errors, error.detail)
            return self._form_page(request, form, teams, status=_bad_request_status(error))
        except templates.TemplateBroken as error:
            form.add_error(None, f"This golden path cannot be rendered, which is a problem of the platform team "
                                 f"(not of your input): {error}")
            return self._form_page(request, form, teams, status=500)
        return render(request, "wizard/service_preview.html", {
            "form": form, "template": definition, "team": team, "tree": file_tree(preview["files"]),
            "files": [{**file, "lines": len(file["content"].splitlines()), "anchor": f"file-{index}"}
                      for index, file in enumerate(preview["files"], start=1)],
        })

    def _validate(self, form: NewServiceForm) -> dict[str, Any] | None:
        try:
            return templates.inputs_validate(form.template, form.inputs())
        except InvalidInput as error:
            form.add_service_errors(error.errors, error.detail)
            return None

    def _create(self, request: HttpRequest, form: NewServiceForm, team: Team, teams: list[Team]) -> HttpResponse:
        try:
            run, _created = provisioning_runs.run_create(
                actor=request.user, template=form.template.name, owner=team.slug, inputs=form.inputs(),
                idempotency_key=str(form.cleaned_data["idempotency_key"]))
        except CatalogError as error:
            if "Idempotency-Key" in error.errors:
                # This form already started a run with other values: a new key starts another one.
                data = request.POST.copy()
                data["idempotency_key"] = str(uuid.uuid4())
                form = NewServiceForm(data, template=form.template, teams=teams)
                form.add_error(None, "This form already started a run with other values (see Runs). "
                                     "Preview again to start a new run with these values.")
            else:
                form.add_service_errors(error.errors, error.detail)
            return self._form_page(request, form, teams, status=_bad_request_status(error))
        return redirect("wizard:run_detail", pk=run.pk)

    def _form_page(self, request: HttpRequest, form: NewServiceForm, teams: list[Team], *,
                   status: int = 200) -> HttpResponse:
        # The name is checked as it is typed (htmx): its form and whether it is free.
        form.fields[NAME_FIELD].widget.attrs.update({
            "hx-get": reverse("wizard:service_name_check", kwargs={"template": form.template.name}),
            "hx-trigger": "input changed delay:300ms, blur", "hx-target": "#name-check", "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
        })
        return render(request, "wizard/service_create.html", {
            "form": form, "template": form.template, "teams": teams, "name_field": NAME_FIELD,
        }, status=status)


@dataclass(frozen=True)
class TreeRow:
    depth: int
    name: str
    anchor: str = ""  # set for files: the id of their content below


def file_tree(files: list[dict[str, str]]) -> list[TreeRow]:
    """The preview's file tree: folders first, then files, each indented by its depth."""
    anchors = {file["path"]: f"file-{index}" for index, file in enumerate(files, start=1)}

    def order(path: str) -> list[tuple[int, str]]:
        parts = path.split("/")
        return [(0, part) for part in parts[:-1]] + [(1, parts[-1])]

    rows: list[TreeRow] = []
    folders: set[str] = set()
    for path in sorted(anchors, key=order):
        parts = path.split("/")
        for depth in range(len(parts) - 1):
            folder = "/".join(parts[:depth + 1])
            if folder not in folders:
                folders.add(folder)
                rows.append(TreeRow(depth=depth, name=parts[depth] + "/"))
        rows.append(TreeRow(depth=len(parts) - 1, name=parts[-1], anchor=anchors[path]))
    return rows


class ServiceNameCheckView(PartialLoginRequiredMixin, View):
    """Live check of the service name as it is typed: its form, and whether it is free."""

    def get(self, request: HttpRequest, template: str) -> HttpResponse:
        definition = _template_or_404(template)
        name = request.GET.get(NAME_FIELD, "").strip()
        problem = ""
        if name:
            try:
                templates.inputs_validate(definition, {templates.NAME_INPUT: name})
            except InvalidInput as error:
                problem = (error.errors.get(NAME_FIELD) or [""])[0]
            if not problem:
                problem = provisioning_runs.service_name_problem(name) or ""
        host_state = ""
        if name and not problem:
            # The repository host is asked by a worker, never here: "checking" polls until it answered.
            host_state = namecheck.ask_host(name)
            if host_state == namecheck.TAKEN:
                problem = namecheck.taken_words(name)
        return render(request, "wizard/partials/_name_check.html", {
            "name": name, "problem": problem, "host_state": host_state, "host": namecheck.host_words(),
            "check_url": reverse("wizard:service_name_check", kwargs={"template": definition.name}),
            "name_field": NAME_FIELD})

"""A person's API tokens: create one (its key shown once), list them, revoke one."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from services.access import tokens
from services.errors import CatalogError
from services.web.base import LoginRequiredMixin


class ApiTokenListView(LoginRequiredMixin, View):
    """My API tokens: create one (its key shown once), see them all, revoke one."""

    def _page(self, request: HttpRequest, *, key: str = "", errors: dict | None = None, status: int = 200,
              values: dict | None = None) -> HttpResponse:
        context = {"tokens": tokens.token_list(request.user), "new_key": key, "errors": errors or {},
                   "values": values or {}, "nav": ""}
        return render(request, "tokens/token_list.html", context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._page(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        if "revoke" in request.POST:
            try:
                token = tokens.token_of(request.user, request.POST["revoke"])
            except CatalogError:
                raise Http404("No such token.") from None
            tokens.token_revoke(actor=request.user, token=token)
            messages.success(request, f"Token “{token.name}” is revoked: it is refused from now on.")
            return redirect("services:token_list")
        name = request.POST.get("name", "")
        days = request.POST.get("expires_in_days", "")
        try:
            _, key = tokens.token_create(actor=request.user, user=request.user, name=name, expires_in_days=days)
        except CatalogError as error:
            return self._page(request, errors=error.errors, status=400, values=request.POST)
        return self._page(request, key=key)

"""Security headers and the throttled sign-in page.

The Content-Security-Policy is one string built once from settings and set on every response that
has none (pages, API, the cached fast path, static files, errors); views that must differ set their
own with `content_security_policy(...)`. Django's SecurityMiddleware and XFrameOptionsMiddleware,
placed first in MIDDLEWARE, add nosniff, Referrer-Policy, X-Frame-Options and HSTS (behind TLS).

django-csp was measured and not used: its middleware rebuilds the policy from settings twice per
response, ~65 µs, about a fifth of a whole cached API answer; this one sets a prepared string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from services.access import throttling

HEADER = "Content-Security-Policy"


def policy_text(directives: Mapping[str, Sequence[str]]) -> str:
    """{"default-src": ["'self'"], ...} → "default-src 'self'; ..." (a directive with no source stands alone)."""
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Set the portal's Content-Security-Policy on every response that does not carry its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.policy = policy_text(settings.SLIPWAY_CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = self.policy
        return response


def content_security_policy(**changes: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A view decorator: the portal's policy with some directives replaced (`style_src=[...]`)."""
    directives = dict(settings.SLIPWAY_CONTENT_SECURITY_POLICY)
    directives.update({name.replace("_", "-"): list(sources) for name, sources in changes.items()})
    policy = policy_text(directives)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            response = view(request, *args, **kwargs)
            response[HEADER] = policy
            return response

        return wrapped

    return decorate


class ThrottledAuthenticationForm(AuthenticationForm):
    """Django's sign-in form that refuses before checking the password once too many attempts failed."""

    def __init__(self, request: HttpRequest | None = None, *args: Any, refusal: str = "", **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.refusal = refusal

    def clean(self) -> dict[str, Any]:
        if self.refusal:
            raise ValidationError(self.refusal, code="throttled")
        return super().clean()


class ThrottledLoginView(LoginView):
    """The sign-in page, with failed attempts limited per username and address and per address:
    over the limit it answers 429 with Retry-After and says so in the form (services/access/throttling.py)."""

    form_class = ThrottledAuthenticationForm
    refusal: throttling.Verdict | None = None

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        self.refusal = throttling.login_refusal(request, self._username())
        return super().post(request, *args, **kwargs)

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        if self.refusal is not None:
            kwargs["refusal"] = throttling.login_refusal_message(self.refusal)
        return kwargs

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        throttling.login_succeeded(self.request, self._username())
        return super().form_valid(form)

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if self.refusal is not None:
            response.status_code = 429
            response["Retry-After"] = str(self.refusal.retry_after)
        elif self._username() and self.request.POST.get("password"):
            throttling.login_failed(self.request, self._username())
        return response

    def _username(self) -> str:
        return str(self.request.POST.get("username", ""))[:150]

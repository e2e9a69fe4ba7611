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
from django.contrib.admin.forms import AdminAuthenticationForm
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


class ThrottledFormMixin:
    """A sign-in form that says so when the throttle refused the attempt (services/access/throttling.py
    refuses inside authenticate(), before any password is checked), instead of "wrong password"."""

    request: HttpRequest | None

    def get_invalid_login_error(self) -> ValidationError:
        refusal = getattr(self.request, throttling.REFUSAL_ATTRIBUTE, None)
        if refusal is not None:
            return ValidationError(throttling.login_refusal_message(refusal), code="throttled")
        return super().get_invalid_login_error()  # type: ignore[misc]


class ThrottledAuthenticationForm(ThrottledFormMixin, AuthenticationForm):
    """Django's sign-in form, saying when the throttle refused."""


class ThrottledAdminAuthenticationForm(ThrottledFormMixin, AdminAuthenticationForm):
    """The admin's sign-in form, saying when the throttle refused."""


def with_throttle_status(response: HttpResponse, request: HttpRequest) -> HttpResponse:
    """A refused sign-in is answered 429 with Retry-After, whichever page it came through."""
    refusal = getattr(request, throttling.REFUSAL_ATTRIBUTE, None)
    if refusal is not None:
        response.status_code = 429
        response["Retry-After"] = str(refusal.retry_after)
    return response


class ThrottledLoginView(LoginView):
    """The sign-in page: the limits themselves live in authenticate() (every way in shares them);
    this page answers a refused attempt 429 with Retry-After and says so in the form."""

    form_class = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        return with_throttle_status(super().form_invalid(form), self.request)

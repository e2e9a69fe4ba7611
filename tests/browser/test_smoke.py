"""The browser harness itself: the home page renders and signing in works."""

from __future__ import annotations

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_and_see_the_home_page(page, live_server, sign_in, screenshot):
    user = UserFactory(username="ana")
    user.set_password("a-long-password-1")
    user.save()
    sign_in("ana", "a-long-password-1")
    assert "Sign out ana" in page.content()
    assert page.title().endswith("Slipway")
    screenshot("home-signed-in")

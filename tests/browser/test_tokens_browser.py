"""A person creates an API token on its page, uses it, and revokes it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_use_and_revoke_a_token_in_the_browser(page, live_server, sign_in, screenshot):
    user = UserFactory(username="tia")
    user.set_password("a-long-password-1")
    user.save()
    sign_in("tia", "a-long-password-1")
    page.get_by_role("link", name="API tokens").click()
    expect(page).to_have_title("API tokens · Slipway")
    page.get_by_label("Name").fill("deploy pipeline")
    page.get_by_label("Expires after (days)").fill("30")
    page.get_by_role("button", name="Create token").click()
    key = page.locator("#new-token-key").inner_text()
    assert key.startswith("slw_")
    screenshot("tokens-created")
    answer = page.request.get(f"{live_server.url}/api/v1/services/", headers={"Authorization": f"Token {key}"})
    assert answer.status == 200
    page.get_by_role("button", name="Revoke deploy pipeline").click()
    expect(page.get_by_text("is revoked")).to_be_visible()
    screenshot("tokens-revoked")
    answer = page.request.get(f"{live_server.url}/api/v1/services/", headers={"Authorization": f"Token {key}"})
    assert answer.status == 401

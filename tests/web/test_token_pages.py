"""The API tokens page: create (key shown once), list, revoke."""

from __future__ import annotations

import pytest

from services.models import ApiToken
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    user = UserFactory(username="tia")
    client.force_login(user)
    return client


def test_create_list_and_revoke_a_token_on_the_page(signed_in, client):
    response = signed_in.post("/tokens/", {"name": "laptop <script>", "expires_in_days": "30"})
    assert response.status_code == 200
    body = response.content.decode()
    key = body.split('id="new-token-key" class="token-key">')[1].split("<")[0]
    assert key.startswith("slw_")
    assert "laptop &lt;script&gt;" in body and "laptop <script>" not in body
    assert key not in signed_in.get("/tokens/").content.decode()  # shown once
    token = ApiToken.objects.get(name="laptop <script>")
    response = signed_in.post("/tokens/", {"revoke": str(token.pk)}, follow=True)
    assert "is revoked" in response.content.decode()
    assert ApiToken.objects.get(pk=token.pk).state == "revoked"


@pytest.mark.parametrize(("data", "field"), [({"name": ""}, "token-name"), ({"name": "x", "expires_in_days": "soon"},
                                                                             "token-days")])
def test_bad_values_are_shown_next_to_their_field(signed_in, data, field):
    response = signed_in.post("/tokens/", data)
    assert response.status_code == 400
    assert f'id="{field}-errors"' in response.content.decode()
    assert not ApiToken.objects.exists()


def test_every_bad_value_is_shown_at_once_and_kept(signed_in):
    response = signed_in.post("/tokens/", {"name": "", "expires_in_days": "soon"})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="token-name-errors"' in body and 'id="token-days-errors"' in body
    assert 'value="soon"' in body  # what was typed stays in the form


def test_the_new_key_has_a_copy_button(signed_in):
    body = signed_in.post("/tokens/", {"name": "ci"}).content.decode()
    key = body.split('id="new-token-key" class="token-key">')[1].split("<")[0]
    assert f'class="button secondary small copy" data-copy="{key}"' in body


def test_someone_elses_token_cannot_be_revoked(signed_in):
    from services.access.tokens import token_create

    other, _ = token_create(actor=None, user=UserFactory(username="oda"), name="theirs")
    assert signed_in.post("/tokens/", {"revoke": str(other.pk)}).status_code == 404
    assert ApiToken.objects.get(pk=other.pk).state == "active"


def test_the_page_needs_sign_in(client, db):
    assert client.get("/tokens/").status_code == 302

"""File parts of multipart bodies are refused before their body is read (issue #13).

DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts: with Django's own upload handlers a client,
signed in or not, made the server read a file part of any size, keep 2.5 MB of it in memory and write
the rest to a temporary file, on any address that reads the body. Each test sends a 5 MB file part and
counts the bytes the server read from the request body: far fewer than the file's.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.test.client import FakePayload
from rest_framework.test import APIClient

from services.http.uploads import REFUSAL
from tests.factories import UserFactory, token_for

BOUNDARY = "slipway-test-boundary"
FILE_BYTES = 5 * 1024 * 1024
# What the server may read of such a body: the fields and the file part's headers come in the first
# chunk the multipart parser reads (64 KiB); the file's 5 MB must stay unread.
MOST_READ = 256 * 1024


def multipart(fields: dict[str, str], *, file_first: bool = False) -> bytes:
    """A multipart/form-data body of `fields` and a 5 MB file part `upload`."""
    parts = [
        (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()
        for name, value in fields.items()
    ]
    upload = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="upload"; filename="big.bin"\r\n'
              "Content-Type: application/octet-stream\r\n\r\n").encode() + b"x" * FILE_BYTES + b"\r\n"
    parts.insert(0 if file_first else len(parts), upload)
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def body_read(monkeypatch) -> list[int]:
    """How many bytes of request bodies the server read (the test client's request stream)."""
    counted = [0]
    read = FakePayload.read

    def counting_read(self, *args, **kwargs):
        data = read(self, *args, **kwargs)
        counted[0] += len(data)
        return data

    monkeypatch.setattr(FakePayload, "read", counting_read)
    return counted


@pytest.fixture
def upload_dir(settings, tmp_path):
    """Where Django would write a file part too large for memory; must stay empty."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    return tmp_path


def post(client: Client, path: str, fields: dict[str, str], **extra):
    return client.generic("POST", path, multipart(fields, file_first=extra.pop("file_first", False)),
                          content_type=CONTENT_TYPE, **extra)


def assert_refused_unread(response, body_read: list[int], upload_dir) -> None:
    assert response.status_code == 400, response.content[:300]
    assert 0 < body_read[0] <= MOST_READ  # the body was read into, but not the file part's 5 MB
    assert list(upload_dir.iterdir()) == []


@pytest.mark.django_db
def test_sign_in_page_refuses_a_file_part_before_reading_it(body_read, upload_dir) -> None:
    user = UserFactory(username="jane")
    user.set_password("pw")
    user.save()
    client = Client()
    response = post(client, "/accounts/login/", {"username": "jane", "password": "pw"})
    assert_refused_unread(response, body_read, upload_dir)
    assert response["Content-Type"].startswith("text/html")
    assert "_auth_user_id" not in client.session  # the form was not read: nobody signed in


@pytest.mark.django_db
def test_sign_in_page_with_csrf_checks_refuses_a_file_part_first_in_the_body(body_read, upload_dir) -> None:
    """With CSRF checks on, the middleware reads the body (for csrfmiddlewaretoken) before the view."""
    client = Client(enforce_csrf_checks=True)
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    response = post(client, "/accounts/login/", {"csrfmiddlewaretoken": token, "username": "x", "password": "y"},
                    file_first=True)
    assert_refused_unread(response, body_read, upload_dir)


@pytest.mark.django_db
def test_admin_refuses_a_file_part_signed_out_and_signed_in(body_read, upload_dir) -> None:
    response = post(Client(), "/admin/login/", {"username": "x", "password": "y"})
    assert_refused_unread(response, body_read, upload_dir)

    admin = get_user_model().objects.create_superuser("root", "root@example.org", "pw")
    client = Client()
    client.force_login(admin)
    body_read[0] = 0
    response = post(client, "/admin/services/team/add/", {"slug": "team-x", "name": "X"})
    assert_refused_unread(response, body_read, upload_dir)
    assert not get_user_model().objects.filter(username="x").exists()


@pytest.mark.django_db
def test_signed_in_page_form_refuses_a_file_part(body_read, upload_dir) -> None:
    client = Client()
    client.force_login(UserFactory(username="mia"))
    response = post(client, "/tokens/", {"name": "laptop"})
    assert_refused_unread(response, body_read, upload_dir)
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_api_refuses_a_file_part_with_a_json_error(body_read, upload_dir) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory(username='mia'))}")
    response = post(client, "/api/v1/services/", {"slug": "ledger", "name": "Ledger", "owner": "payments"})
    assert_refused_unread(response, body_read, upload_dir)
    assert set(response.json()) == {"detail", "errors"}
    assert REFUSAL in response.json()["detail"]


@pytest.mark.django_db
def test_api_signed_in_by_session_refuses_a_file_part_with_a_json_error(body_read, upload_dir) -> None:
    """A session-authenticated API write passes DRF's CSRF check, which reads the body first."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="mia"))
    client.get("/accounts/login/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = post(client, "/api/v1/services/", {"csrfmiddlewaretoken": token, "slug": "ledger"})
    assert_refused_unread(response, body_read, upload_dir)
    assert set(response.json()) == {"detail", "errors"}


@pytest.mark.django_db
def test_api_signed_out_never_reads_the_body(body_read, upload_dir) -> None:
    """Without credentials the API answers 401 before it parses the body at all."""
    response = post(APIClient(), "/api/v1/services/", {"slug": "ledger"})
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}
    assert body_read[0] <= MOST_READ
    assert list(upload_dir.iterdir()) == []


@pytest.mark.django_db
def test_form_fields_alone_still_post_as_multipart(body_read) -> None:
    """Refusing file parts leaves multipart bodies of plain fields working (curl -F)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(UserFactory(username='mia'))}")
    body = (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="slug"\r\n\r\nBad Slug\r\n'
            f"--{BOUNDARY}--\r\n").encode()
    response = client.generic("POST", "/api/v1/services/", body, content_type=CONTENT_TYPE)
    assert response.status_code == 400
    assert "slug" in response.json()["errors"]

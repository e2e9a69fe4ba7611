from __future__ import annotations

import pytest

from app.api import MAX_NAME_LENGTH, greet


def test_greet():
    assert greet("Hello", "Ada") == "Hello, Ada!"


def test_greeting_defaults_to_world(client):
    response = client.get("/api/v1/greeting")

    assert response.status_code == 200
    assert response.get_json() == {"message": "Hello, world!"}


def test_greeting_uses_the_name(client):
    response = client.get("/api/v1/greeting", query_string={"name": "Ada"})

    assert response.get_json() == {"message": "Hello, Ada!"}


@pytest.mark.parametrize("name", ["   ", "x" * (MAX_NAME_LENGTH + 1)])
def test_greeting_rejects_a_bad_name(client, name):
    response = client.get("/api/v1/greeting", query_string={"name": name})

    assert response.status_code == 400
    assert response.get_json()["error"] == "Bad Request"
    assert "name" in response.get_json()["detail"]

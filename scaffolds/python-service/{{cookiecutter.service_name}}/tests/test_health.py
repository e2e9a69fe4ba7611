from __future__ import annotations

from app import SERVICE_NAME


def test_healthz_answers_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": SERVICE_NAME}


def test_unknown_path_is_a_json_404(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"] == "Not Found"


def test_wrong_method_is_a_json_405(client):
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response.get_json()["error"] == "Method Not Allowed"

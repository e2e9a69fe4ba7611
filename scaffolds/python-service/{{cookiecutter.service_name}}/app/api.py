"""The service's API, version 1. `GET /api/v1/greeting` is an example endpoint: replace it."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request

from app.config import Settings

api = Blueprint("api", __name__)

MAX_NAME_LENGTH = 100


def greet(greeting: str, name: str) -> str:
    """The business logic, kept apart from HTTP so it is easy to test."""
    return f"{greeting}, {name}!"


@api.get("/greeting")
def greeting() -> dict[str, str]:
    name = request.args.get("name", "world").strip()
    if not name:
        abort(400, description="name must not be blank")
    if len(name) > MAX_NAME_LENGTH:
        abort(400, description=f"name must be at most {MAX_NAME_LENGTH} characters")
    settings: Settings = current_app.config["SETTINGS"]
    return {"message": greet(settings.greeting, name)}

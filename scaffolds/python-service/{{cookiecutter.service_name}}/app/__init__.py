"""The HTTP API: `create_app()` builds the WSGI application that gunicorn serves."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from app.api import api
from app.config import SERVICE_NAME, Settings
from app.health import health

__all__ = ["SERVICE_NAME", "create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the application; tests pass their own settings, production reads the environment."""
    settings = settings or Settings.from_env()
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )

    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.json.sort_keys = False

    app.register_blueprint(health)
    app.register_blueprint(api, url_prefix="/api/v1")

    @app.errorhandler(HTTPException)
    def json_error(exc: HTTPException) -> tuple[Response, int]:
        """Every error is JSON, never an HTML page."""
        return jsonify(error=exc.name, detail=exc.description), exc.code or 500

    return app

"""`python -m app`: the development server on 127.0.0.1 (production uses gunicorn)."""

from __future__ import annotations

from app import create_app

if __name__ == "__main__":
    application = create_app()
    application.run(host="127.0.0.1", port=application.config["SETTINGS"].port, debug=True)

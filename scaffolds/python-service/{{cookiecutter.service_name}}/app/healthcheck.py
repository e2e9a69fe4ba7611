"""Container health probe: `python -m app.healthcheck` exits 0 when GET /healthz answers 200.

The Dockerfile's HEALTHCHECK runs it; it needs no curl in the image.
"""

from __future__ import annotations

import os
import sys
import urllib.request

from app.config import DEFAULT_PORT


def probe(url: str, timeout: float = 3.0) -> bool:
    """True when `url` answers 200 within `timeout` seconds."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an HTTP URL: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
            return response.status == 200
    except OSError:  # refused, timed out, or an HTTP error status (HTTPError is an OSError)
        return False


def main() -> int:
    port = os.environ.get("PORT", str(DEFAULT_PORT))
    return 0 if probe(f"http://127.0.0.1:{port}/healthz") else 1


if __name__ == "__main__":
    sys.exit(main())

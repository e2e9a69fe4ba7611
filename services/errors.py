"""Domain errors raised by the service layer; the API, pages and commands turn them into answers."""

from __future__ import annotations


class CatalogError(Exception):
    """Base of the errors a caller can act on."""

    status = 400

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class InvalidInput(CatalogError):
    """One or more values are wrong; `errors` names each field and why."""

    @classmethod
    def field(cls, name: str, message: str) -> InvalidInput:
        return cls(f"Invalid value for '{name}': {message}", {name: [message]})


class NotFound(CatalogError):
    """What was asked for does not exist."""

    status = 404


class Conflict(CatalogError):
    """The write would clash with what exists."""

    status = 409


class TooManyRequests(CatalogError):
    """A limit on how much one person or team may ask for is reached; `retry_after` says when (seconds)."""

    status = 429

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, *, retry_after: int = 60) -> None:
        super().__init__(detail, errors)
        self.retry_after = max(1, int(retry_after))

"""The search index: one row per searchable thing (a service, a team, a person, a runbook...).

Rows are written by the database itself (triggers on the indexed tables, installed from the registry
in services.catalog.search_index), never by Python: every write path keeps the index right, bulk and
raw SQL included. The full-text structures beside this table are vendor-specific: an FTS5 table over
`names` and `body` on SQLite, a stored tsvector column with a GIN index on PostgreSQL."""

from __future__ import annotations

from django.db import models


class SearchEntry(models.Model):
    """What the search knows of one indexed object: its key (the URL's arguments, joined by '/'), title,
    the names it answers to (ranked first, typo-tolerant) and its text (descriptions, runbook bodies)."""

    kind = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    key = models.CharField(max_length=400)
    title = models.CharField(max_length=400)
    names = models.TextField()
    body = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="searchentry_unique_object")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.key}"

"""Runbooks keep their body rendered as sanitized HTML, and each revision the change it made (a bounded
line diff), both computed once when saved: reads never render Markdown nor diff (issue #13).

Existing rows are filled here, in batches of 50, with the same functions the writes use
(services.catalog.markdown): every runbook rendered, every revision diffed against the one before it
(by number, per runbook). Both are bounded: a diff takes at most ~0.1 s, a render ~0.6 s for a body
within today's limit (MAX_BODY_CHARS) and ~2 s for one of 200,000 characters, the limit before,
which is kept whole and rendered too (3 runbooks of 200,000 characters with 150 revisions: 3.8 s,
137 MB). Going back drops the new columns; nothing else changes."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.models import Q

from services.catalog.markdown import render_runbook, revision_diff

BATCH = 50  # rows in memory at once: bodies written under the old limit may be 200,000 characters
REVISION_FIELDS = ["line_count", "previous_line_count", "diff", "diff_too_large"]


def render_runbooks(apps: Any, schema_editor: Any) -> None:
    Runbook = apps.get_model("services", "Runbook")
    after = 0
    while batch := list(Runbook.objects.filter(pk__gt=after).order_by("pk").only("pk", "title", "body")[:BATCH]):
        for runbook in batch:
            rendered = render_runbook(runbook.body, title=runbook.title)
            runbook.html, runbook.html_title_end = rendered.html, rendered.title_end
        Runbook.objects.bulk_update(batch, ["html", "html_title_end"])
        after = batch[-1].pk


def diff_revisions(apps: Any, schema_editor: Any) -> None:
    RunbookRevision = apps.get_model("services", "RunbookRevision")
    previous: tuple[int, int, str] | None = None  # runbook id, number, body of the last revision seen
    after = (0, 0)
    while batch := list(
        RunbookRevision.objects.filter(Q(runbook_id__gt=after[0]) | Q(runbook_id=after[0], number__gt=after[1]))
        .order_by("runbook_id", "number").only("pk", "runbook_id", "number", "body")[:BATCH]
    ):
        for revision in batch:
            before = (previous[1], previous[2]) if previous and previous[0] == revision.runbook_id else None
            for field, value in revision_diff(before, revision.body, revision.number).items():
                setattr(revision, field, value)
            previous = (revision.runbook_id, revision.number, revision.body)
        RunbookRevision.objects.bulk_update(batch, REVISION_FIELDS)
        after = (batch[-1].runbook_id, batch[-1].number)


class Migration(migrations.Migration):

    dependencies = [
        ("services", "0011_linked_identity"),
    ]

    operations = [
        migrations.AddField(
            model_name="runbook",
            name="html",
            field=models.TextField(blank=True, editable=False, help_text="The body as sanitized HTML."),
        ),
        migrations.AddField(
            model_name="runbook",
            name="html_title_end",
            field=models.PositiveIntegerField(
                default=0, editable=False,
                help_text="Where an opening <h1> repeating the title ends in `html` (the page leaves it out); 0 "
                          "when there is none."),
        ),
        migrations.AddField(
            model_name="runbookrevision",
            name="diff",
            field=models.TextField(
                blank=True, help_text="Unified diff of the body against the revision before; empty when the text "
                                      "is the same or the diff too large."),
        ),
        migrations.AddField(
            model_name="runbookrevision",
            name="diff_too_large",
            field=models.BooleanField(default=False, help_text="Too many lines changed to show a line diff."),
        ),
        migrations.AddField(
            model_name="runbookrevision",
            name="line_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="runbookrevision",
            name="previous_line_count",
            field=models.PositiveIntegerField(
                blank=True, null=True, help_text="Lines of the revision before; empty for the first revision."),
        ),
        migrations.RunPython(render_runbooks, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(diff_revisions, migrations.RunPython.noop, elidable=False),
    ]

"""Platform admins turn golden-path templates off (and on again): a template that is off starts no new
run, and the wizard and the API say why. Runs already accepted go on."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from services.audit import audit_record
from services.errors import InvalidInput
from services.models import TemplateSetting
from services.scaffolder import templates

MAX_NOTE = 500


def switches() -> dict[str, TemplateSetting]:
    """The switches set so far, by template name (a template without one is on)."""
    return {setting.name: setting for setting in TemplateSetting.objects.all()}


def off_note(name: str, known: dict[str, TemplateSetting] | None = None) -> str | None:
    """None when the template is on; else why it is off (possibly an empty note)."""
    setting = (known if known is not None else switches()).get(name)
    if setting is None or setting.enabled:
        return None
    return setting.note


def require_on(name: str) -> None:
    """Refuse a new run from a template that is off, naming the field."""
    note = off_note(name)
    if note is not None:
        reason = f"the template '{name}' is turned off by the platform team" + (f": {note}" if note else "")
        raise InvalidInput(f"The template '{name}' is turned off.", {"template": [reason]})


@transaction.atomic
def template_switch(*, actor: Any, name: str, enabled: bool, note: str = "") -> TemplateSetting:
    """Turn a template on or off, with a note for its users (audited)."""
    definition = templates.template_get(name)  # NotFound for an unknown template
    if not isinstance(note, str) or len(note) > MAX_NOTE or not note.isprintable():
        raise InvalidInput.field("note", f"one line of at most {MAX_NOTE} characters")
    setting, created = TemplateSetting.objects.select_for_update().get_or_create(
        name=definition.name, defaults={"enabled": enabled, "note": note})
    old = (True, "") if created else (setting.enabled, setting.note)
    if (setting.enabled, setting.note) != (enabled, note) or created:
        setting.enabled, setting.note = enabled, note
        setting.save()
    if old != (enabled, note):
        audit_record(actor=actor, action="template.switch", obj=setting,
                     changes={"enabled": [old[0], enabled], "note": [old[1], note]})
    return setting

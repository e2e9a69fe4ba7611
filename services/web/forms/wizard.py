"""The new-service form, generated from a golden path's input JSON Schema.

The form only turns posted text into typed values and describes each input to the browser (label,
help, choices, default, min/max, pattern for live checks). The rules themselves are the service
layer's: scaffolder.templates.inputs_validate and run_create judge the values, and their errors, keyed
`inputs.<name>` and `owner`, land on the fields of the same names here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django import forms

from services.models import Team
from services.scaffolder import templates

INPUT_PREFIX = "inputs."
# Inline flags, named groups, possessive quantifiers and Python-only anchors have no JavaScript
# equivalent: such a pattern is left to the server.
_PYTHON_ONLY = ("(?P", "(?#", "(?a", "(?i", "(?L", "(?m", "(?s", "(?u", "(?x", "\\A", "\\Z", "*+", "++", "?+", "}+")
# Inside a character class, the v flag (which browsers use for `pattern`) reserves these
# characters; each has a valid escape in that mode.
_CLASS_ESCAPED = set("()[]{}/|&!#%,:;<=>@`~^$.*+?")


def html_pattern(pattern: str) -> str | None:
    """A Python regular expression as an HTML `pattern` attribute, or None when it cannot be one.

    Browsers compile `pattern` as a JavaScript regex with the v flag, which refuses a bare `-` at
    the edge of a character class (common in Python patterns such as `[a-z0-9-]`) and silently
    ignores the whole attribute then: such characters are escaped.
    """
    if not pattern or any(token in pattern for token in _PYTHON_ONLY):
        return None
    out: list[str] = []
    in_class, class_start, index = False, 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index:index + 2])
            index += 2
            continue
        if not in_class:
            out.append(char)
            if char == "[":
                in_class = True
                if pattern[index + 1:index + 2] == "^":
                    out.append("^")
                    index += 1
                class_start = index + 1
        elif char == "]" and index > class_start:
            in_class = False
            out.append(char)
        elif char == "-" and index != class_start and pattern[index + 1:index + 2] != "]":
            out.append(char)  # a range such as a-z
        elif char == "-" or char in _CLASS_ESCAPED:
            out.append("\\" + char)
        else:
            out.append(char)
        index += 1
    return None if in_class else "".join(out)


def _input_field(name: str, schema: dict[str, Any], *, required: bool, multiline: bool) -> forms.Field:
    """One form field for one input property of the template's JSON Schema."""
    common: dict[str, Any] = {"label": schema.get("title") or name, "help_text": schema.get("description", ""),
                              "initial": schema.get("default")}
    kind = schema.get("type")
    if "enum" in schema:
        choices = [(str(value), str(value)) for value in schema["enum"]]
        return forms.TypedChoiceField(choices=choices, coerce=int if kind == "integer" else str, **common)
    if kind == "integer":
        # Bounds go to the browser as min/max; the service layer judges them (one set of messages).
        attrs = {key: schema[rule] for key, rule in (("min", "minimum"), ("max", "maximum")) if rule in schema}
        return forms.IntegerField(widget=forms.NumberInput(attrs={**attrs, "inputmode": "numeric"}), **common)
    if kind == "boolean":
        return forms.BooleanField(required=False, **common)
    attrs: dict[str, Any] = {"maxlength": schema.get("maxLength", templates.MAX_STRING)}
    if schema.get("minLength"):
        attrs["minlength"] = schema["minLength"]
    if pattern := html_pattern(schema.get("pattern", "")):
        attrs.update(pattern=pattern, autocomplete="off", autocapitalize="none", spellcheck="false")
        if common["help_text"]:
            attrs["title"] = common["help_text"]  # browsers show it when the pattern does not match
    widget = forms.Textarea(attrs={**attrs, "rows": 4}) if multiline else forms.TextInput(attrs=attrs)
    return forms.CharField(required=required, strip=not multiline, widget=widget, **common)


class NewServiceForm(forms.Form):
    """The wizard's form: the template's inputs (named `inputs.<name>`), the owner team and an
    idempotency key made when the form is first shown (a double submit answers the same run)."""

    owner = forms.CharField(label="Owner team",
                            help_text="The team that will own the service, its repository and its on-call.",
                            widget=forms.Select)
    idempotency_key = forms.UUIDField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, template: templates.Template, teams: Iterable[Team], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.template = template
        teams = list(teams)
        self.fields["owner"].widget.choices = [(team.slug, f"{team.name} ({team.slug})") for team in teams]
        if len(teams) == 1:
            self.fields["owner"].initial = teams[0].slug
        self.fields["idempotency_key"].initial = uuid.uuid4()
        schema = template.json_schema()
        required = set(schema.get("required", ()))
        owner, key = self.fields.pop("owner"), self.fields.pop("idempotency_key")
        for name, prop in schema["properties"].items():
            spec = template.input(name)
            self.fields[INPUT_PREFIX + name] = _input_field(
                name, prop, required=name in required, multiline=bool(spec and spec.multiline))
        self.fields["owner"], self.fields["idempotency_key"] = owner, key

    def input_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(INPUT_PREFIX)]

    def inputs(self) -> dict[str, Any]:
        """The typed values of the inputs that parsed (the service layer judges them)."""
        cleaned = getattr(self, "cleaned_data", {})
        return {name.removeprefix(INPUT_PREFIX): cleaned[name] for name in self.fields
                if name.startswith(INPUT_PREFIX) and name in cleaned}

    def summary(self) -> list[tuple[str, Any]]:
        """(label, value) of every input, for the preview."""
        values = self.inputs()
        return [(field.label, values.get(field.name.removeprefix(INPUT_PREFIX))) for field in self.input_fields()]

    def add_service_errors(self, errors: dict[str, list[str]], detail: str) -> None:
        """Put the service layer's errors next to their fields; the rest above the form."""
        if not errors:
            self.add_error(None, detail)
        for key, messages in errors.items():
            if key in self.fields and key != "idempotency_key":
                if not self.has_error(key):  # a value that did not even parse keeps its first error
                    for message in messages:
                        self.add_error(key, message)
            else:
                for message in messages:
                    self.add_error(None, f"{key.removeprefix(INPUT_PREFIX)}: {message}")

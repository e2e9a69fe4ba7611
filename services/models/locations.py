"""Where the catalog's entries come from: locations (files, folders, repositories on a host), the
sources each refresh read, the conflicts it found; and the origin every catalog entry keeps."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Origin(models.TextChoices):
    """Who made a catalog entry, and so who may change it."""

    # Made before entries kept their origin: the first location describing it adopts it.
    UNCLAIMED = "", "Unclaimed"
    MANUAL = "manual", "Made in the portal"
    SCAFFOLDER = "scaffolder", "Made by a provisioning run"
    LOCATION = "location", "Read from a location"


class HasOrigin(models.Model):
    """The fields every catalog entry made by a location carries (Team, Profile, Domain, System, Service)."""

    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.MANUAL, blank=True)
    origin_location = models.ForeignKey("services.Location", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")
    origin_path = models.CharField(max_length=500, blank=True,
                                   help_text="The descriptor file in the location that produced it.")
    orphaned_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When its location stopped producing it (kept, not deleted).")

    class Meta:
        abstract = True


class Location(models.Model):
    """A place descriptors are read from: a file or folder on the server, or a repository on a host
    (`target` is then `owner/name`, with `path` the descriptor inside it)."""

    class Kind(models.TextChoices):
        PATH = "path", "File or folder on the server"
        REPOSITORY = "repository", "Repository on a host"
        ORGANISATION = "organisation", "Every repository of an organisation"

    class State(models.TextChoices):
        PENDING = "pending", "Not read yet"
        REFRESHING = "refreshing", "Refreshing"
        OK = "ok", "Up to date"
        PARTIAL = "partial", "Read, with problems"
        FAILED = "failed", "Last refresh failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    host = models.CharField(max_length=20, blank=True, help_text="local or github, for a repository.")
    target = models.CharField(max_length=500, help_text="An absolute path on the server, owner/name, or an "
                                                        "organisation.")
    path = models.CharField(max_length=300, blank=True, default="catalog-info.yaml",
                            help_text="The descriptor inside the repository.")
    ref = models.CharField(max_length=200, blank=True, help_text="Branch or tag; empty for the default branch.")
    # A member registers for their team: the location may then describe only that team's entries.
    team = models.ForeignKey("services.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    refresh_seconds = models.PositiveIntegerField(default=1800)
    next_refresh_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_changed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="What the last refresh read and did.")
    listing = models.JSONField(default=list, blank=True,
                               help_text="An organisation's repositories as last listed: a page each, with its ETag.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["kind", "host", "target", "path", "ref"],
                                               name="location_unique_target")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        """How the location is named on pages and in messages."""
        if self.kind == self.Kind.PATH:
            return self.target
        if self.kind == self.Kind.ORGANISATION:
            return f"{self.host}:{self.target}/*/{self.path}"
        where = f"{self.host}:{self.target}"
        return f"{where}/{self.path}" + (f"@{self.ref}" if self.ref else "")


class LocationSource(models.Model):
    """One descriptor file a location's refresh read (the root, or a target of a `kind: Location`)."""

    class State(models.TextChoices):
        READ = "read", "Read"
        NONE = "none", "No descriptor"  # a repository of an organisation that holds none: not an error
        MISSING = "missing", "Missing"
        FAILED = "failed", "Could not be read"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="sources")
    path = models.CharField(max_length=500)
    state = models.CharField(max_length=20, choices=State.choices)
    etag = models.CharField(max_length=200, blank=True, help_text="The host's validator, for a conditional read.")
    digest = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the text last read.")
    entities = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    named_by = models.CharField(max_length=500, blank=True, help_text="The Location document that named it.")
    targets = models.JSONField(default=list, blank=True,
                               help_text="The sources its Location documents named: followed without re-reading it.")
    had_problems = models.BooleanField(default=False, help_text="Invalid or conflicting documents: re-read in full.")
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["location", "path"]
        constraints = [models.UniqueConstraint(fields=["location", "path"], name="source_unique_path")]

    def __str__(self) -> str:
        return f"{self.location}: {self.path}"


class CatalogConflict(models.Model):
    """A descriptor naming an entry that another origin holds: nothing of it was applied."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="conflicts")
    kind = models.CharField(max_length=20, help_text="Backstage kind: Component, Group, User, System, Domain.")
    name = models.CharField(max_length=300, help_text="The catalog key (slug or username, lower case).")
    path = models.CharField(max_length=500, help_text="The descriptor file that names it.")
    held_by = models.CharField(max_length=600, help_text="Who holds the entry.")
    message = models.TextField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["location", "kind", "name"], name="conflict_unique_entry")]
        indexes = [models.Index(fields=["kind", "name"], name="conflict_entry_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}: {self.message}"


class CodeOwners(models.Model):
    """A repository's CODEOWNERS file as its location last read it (services/catalog/codeowners.py)."""

    repository = models.CharField(max_length=300, unique=True, help_text="The repository key, host/owner/name.")
    location = models.ForeignKey(Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    path = models.CharField(max_length=100, blank=True, help_text="Where it was found; empty: the repository has none.")
    text = models.TextField(blank=True)
    etag = models.CharField(max_length=200, blank=True, help_text="The host's validator: asked again conditionally.")
    read_at = models.DateTimeField()

    class Meta:
        ordering = ["repository"]

    def __str__(self) -> str:
        return f"{self.repository}: {self.path or 'no CODEOWNERS'}"

"""Who is who: API tokens (stored as hashes) and the single sign-on identities linked to people."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A named API token of a person. Only a hash of the key is kept: the key is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} · {self.name} ({self.prefix}…)"

    @property
    def state(self) -> str:
        """revoked, expired or active, as of now."""
        from django.utils import timezone

        if self.revoked_at:
            return "revoked"
        if self.expires_at and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class LinkedIdentity(models.Model):
    """A person's account at a single sign-on provider: the provider (`issuer`) and its stable id for
    them (`subject`, the `sub` claim). Sign-in matches on this pair only, never on a name a provider
    sends; a person has at most one identity per provider, and an identity belongs to one person."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="linked_identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="linked_identity_unique_subject"),
            models.UniqueConstraint(fields=["user", "issuer"], name="linked_identity_one_per_provider"),
        ]
        verbose_name_plural = "linked identities"

    def __str__(self) -> str:
        return f"{self.user} · {self.issuer} · {self.subject}"

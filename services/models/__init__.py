"""The data model, one module per domain: catalog.py (teams, people, systems, services, runbooks,
environments), scaffolder.py (runs, steps, template switches, host write budget), access.py (API
tokens), audit.py (audit events, the catalog generation), locations.py (locations, their sources and
conflicts, the origin of every entry), search.py (the search index the database keeps). Import models from here.
Models import nothing of the service layer."""

from services.models.access import ApiToken, LinkedIdentity
from services.models.audit import AuditEvent, AuditEventQuerySet, AuditLogIsAppendOnly, CatalogGeneration
from services.models.catalog import (
    WELL_KNOWN_LIFECYCLES,
    WELL_KNOWN_TYPES,
    Api,
    Domain,
    EntityLink,
    Environment,
    Membership,
    Profile,
    Resource,
    Runbook,
    RunbookRevision,
    Service,
    ServiceDependency,
    System,
    Team,
)
from services.models.locations import CatalogConflict, CodeOwners, Location, LocationSource, Origin
from services.models.scaffolder import (
    Heartbeat,
    HostThrottle,
    HostWriteSlot,
    ProvisioningRun,
    RunStep,
    TemplateSetting,
)
from services.models.search import SearchEntry

__all__ = [
    "WELL_KNOWN_LIFECYCLES",
    "WELL_KNOWN_TYPES",
    "Api",
    "ApiToken",
    "AuditEvent",
    "AuditEventQuerySet",
    "AuditLogIsAppendOnly",
    "CatalogConflict",
    "CatalogGeneration",
    "CodeOwners",
    "Domain",
    "EntityLink",
    "Environment",
    "Heartbeat",
    "LinkedIdentity",
    "Location",
    "LocationSource",
    "HostThrottle",
    "HostWriteSlot",
    "Membership",
    "Origin",
    "Profile",
    "ProvisioningRun",
    "Resource",
    "Runbook",
    "RunbookRevision",
    "RunStep",
    "SearchEntry",
    "Service",
    "ServiceDependency",
    "System",
    "Team",
    "TemplateSetting",
]

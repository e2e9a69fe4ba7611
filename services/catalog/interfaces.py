"""APIs and resources: what their pages and the API read, and how the references naming them (a
component's providesApis, consumesApis and dependsOn, a resource's links) resolve to rows.

References are kept as written (kind:namespace/name, lower case), so one that names nothing in the
catalog yet is shown as such; every resolution is one query per kind whatever the number of refs."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from services.descriptors.parse import entry_key
from services.errors import NotFound
from services.models import Api, EntityLink, Resource, Service

MOST_SHOWN = 200  # providers, consumers or dependents listed on one page; the rest are counted
_MODELS = {"api": Api, "resource": Resource}


@dataclass(frozen=True)
class Linked:
    """A reference and what it names in the catalog (None when nothing does yet)."""

    ref: str
    entry: Api | Resource | Service | None

    @property
    def kind(self) -> str:
        return self.ref.partition(":")[0]

    @property
    def name(self) -> str:
        return self.ref.partition(":")[2].removeprefix("default/")


def resolve(refs: Iterable[str]) -> dict[str, Api | Resource | Service]:
    """The catalog rows the references name: one query per kind named."""
    wanted: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for ref in refs:
        kind, _, rest = ref.partition(":")
        namespace, _, name = rest.rpartition("/")
        wanted[kind].add((namespace or "default", name))
    found: dict[str, Api | Resource | Service] = {}
    for kind, keys in wanted.items():
        if kind == "component":
            slugs = {entry_key(kind, namespace, name): f"component:{namespace}/{name}" for namespace, name in keys}
            for service in Service.objects.filter(slug__in=sorted(slugs)).select_related("owner_team"):
                found[slugs[service.slug]] = service
        elif kind in _MODELS:
            condition = Q(pk__in=[])
            for namespace, name in keys:
                condition |= Q(namespace=namespace, slug=name)
            for row in _MODELS[kind].objects.filter(condition).select_related("owner_team"):
                found[row.ref] = row
    return found


def _entity_or_404(model: type[Api] | type[Resource], what: str, namespace: str, name: str) -> Any:
    entity = (model.objects.select_related("owner_team", "owner_user", "system", "origin_location")
              .filter(namespace=str(namespace).lower(), slug=str(name).lower()).first())
    if entity is None:
        raise NotFound(f"No {what} {namespace}/{name}.")
    return entity


def api_or_404(namespace: str, name: str) -> Api:
    return _entity_or_404(Api, "API", namespace, name)


def resource_or_404(namespace: str, name: str) -> Resource:
    return _entity_or_404(Resource, "resource", namespace, name)


def _services_linking(relation: str, ref: str) -> QuerySet[Service]:
    return (Service.objects.filter(links_out__relation=relation, links_out__target_ref=ref)
            .select_related("owner_team").order_by("slug"))


def api_relations(api: Api) -> dict[str, Any]:
    """The services providing and consuming an API, at most MOST_SHOWN of each, with their counts."""
    providers = _services_linking(EntityLink.Relation.PROVIDES_APIS, api.ref)
    consumers = _services_linking(EntityLink.Relation.CONSUMES_APIS, api.ref)
    return {"providers": list(providers[:MOST_SHOWN]), "provider_count": providers.count(),
            "consumers": list(consumers[:MOST_SHOWN]), "consumer_count": consumers.count()}


def resource_relations(resource: Resource) -> dict[str, Any]:
    """What a resource depends on and is a dependency of (as it says), and who depends on it (as they say)."""
    own = list(resource.links_out.order_by("relation", "target_ref").values_list("relation", "target_ref"))
    linked = {ref: entry for ref, entry in resolve(ref for _, ref in own).items()}
    services = (Service.objects.filter(dependencies__target_ref=resource.ref).select_related("owner_team")
                .order_by("slug"))
    resources = Resource.objects.filter(links_out__relation=EntityLink.Relation.DEPENDS_ON,
                                        links_out__target_ref=resource.ref).order_by("namespace", "slug")
    return {
        "depends_on": [Linked(ref, linked.get(ref)) for relation, ref in own if relation == "dependsOn"],
        "dependency_of": [Linked(ref, linked.get(ref)) for relation, ref in own if relation == "dependencyOf"],
        "dependent_services": list(services[:MOST_SHOWN]), "dependent_service_count": services.count(),
        "dependent_resources": list(resources[:MOST_SHOWN]),
    }


def service_interfaces(service: Service) -> dict[str, list[Linked]]:
    """The APIs a service provides and consumes, the resources it depends on, what it is a dependency of."""
    # From what reads.service_page prefetched: a query per kind named, none when nothing is linked.
    links = [(link.relation, link.target_ref) for link in service.links_out.all()]
    resources = [dependency.target_ref for dependency in service.dependencies.all()
                 if dependency.target_ref.startswith("resource:")]
    rows = resolve([ref for _, ref in links] + resources)
    by_relation: dict[str, list[Linked]] = defaultdict(list)
    for relation, ref in links:
        by_relation[relation].append(Linked(ref, rows.get(ref)))
    return {"provides": by_relation["providesApis"], "consumes": by_relation["consumesApis"],
            "dependency_of": by_relation["dependencyOf"], "resources": [Linked(ref, rows.get(ref)) for ref in resources]}

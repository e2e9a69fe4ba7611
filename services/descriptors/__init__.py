"""Backstage descriptors (catalog-info.yaml) into and out of the catalog: parse.py (bounded YAML),
checks.py (Backstage's validity rules), importer.py (with planning.py, writing.py), exporter.py,
report.py. Uses models/, catalog/ (refs, the generation), hosts/ (repository keys) and audit.py;
never the web, the API or the commands.


Import reads every document of a file or folder, validates each one fully by Backstage's own rules
before anything is written, resolves the references between documents (and to the catalog), then
writes only what differs, with a handful of bulk queries in one transaction. Export writes the
catalog back as multi-document descriptors that import again into the same catalog.

Mapping (Backstage -> Slipway):
- Component -> Service. The slug is the name as a DNS label: lower case, `_` and `.` become `-`
  (every valid Backstage name maps to a valid slug); a name that differs from its slug is kept in
  the annotation `slipway.dev/backstage-name` so export gives the entity its own name back.
  `github.com/project-slug` (else a `url:` `backstage.io/source-location`) gives the repository.
- Group -> Team (slug = lower-case name; display name, email, type, parent, children, members, and
  the chat channel from a `slack.com/channel` annotation). User -> user + Profile + memberships.
- System -> System, Domain -> Domain (owned by a team or a person).
- API -> Api, Resource -> Resource (keyed by namespace and name; descriptors/namespaced.py).
- Slipway's own fields (tier, environments, runbooks, on-call, leads...) travel as `slipway.dev/`
  annotations (descriptors/extras.py), so an export imports back losslessly.
- Other kinds (Location is followed; Template, Environment, ...) are reported as skipped, not as errors.
Namespaces are kept: outside `default`, a component's, group's, system's or domain's slug is
`<namespace>--<name>` (parse.entry_key), so the same name may be in two namespaces. People have one
namespace (one account each). References compare case-insensitively, as in Backstage.

"""

"""The living catalog: locations (a file or folder on the server, a repository on a host) are read,
followed (`kind: Location`) and refreshed on a schedule or a webhook; every entry keeps its origin,
a location changes only what it produced, conflicts are shown and never applied, and entries a
location stops describing become orphans. reading.py reads sources, refresh.py brings the catalog in
line with one location, locations.py registers, schedules, moves and deletes."""

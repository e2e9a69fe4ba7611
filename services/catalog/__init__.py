"""The catalog's service layer: services, teams, people, runbooks, environments, systems, domains.

writes.py (every write validated, in one transaction, audited; people.py for teams, members and
people), reads.py (selectors shaped for each
list and page), search.py (the lists' filter sets, shared by the API and the pages; search as
you type), ownership.py (who owns a service, repository, person or team), claims.py (what only
Slipway writes, what a run in progress reserves), refs.py (entity references), generation.py (the counter that keys every cached read), markdown.py, demo.py with
demo_data.py. Uses models/, hosts/ (repository keys), access/ and audit.py; never web/, api/, http/.
"""

"""Slipway's one Django app, in rooms by domain (as Sentry's src/sentry and Zulip's zerver).

Data flows one way: edges (web/, api/, http/, management/commands/, tasks.py) call the service
layer (catalog/, descriptors/, scaffolder/, access/, audit.py), which uses models/ and hosts/.
Where to look: the catalog and who owns what in catalog/; catalog-info.yaml import and export in
descriptors/; golden paths and provisioning runs in scaffolder/; GitHub and local git in hosts/;
roles, API tokens, sign-on and throttling in access/; pages in web/; the REST API in api/;
middleware, caches, paging, health and security headers in http/; the data model in models/.
"""

"""Who is who and who may do what: permissions.py (one function per decision, used by the pages,
the API and the commands), tokens.py (hashed, named, expiring API tokens), oidc.py (single sign-on),
throttling.py (API and sign-in limits). Uses models/ and audit.py.
"""

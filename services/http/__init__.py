"""Request plumbing shared by the pages and the API: middleware.py (audit context, request ids, the
cached fast path of API reads), cache.py (the Redis cache backend), page_cache.py, paging.py (deep
pages by key), health.py (/healthz, /readyz), security.py (headers, CSP, the throttled sign-in forms),
uploads.py (file parts refused: no view takes files), apidocs.py (ReDoc's script without its CDN logo),
metrics.py (/metrics for Prometheus), gunicorn_hooks.py (gunicorn's settings for the web process).
Uses access/ (tokens, throttling), catalog/generation.py and audit.py; holds no business rule.
"""

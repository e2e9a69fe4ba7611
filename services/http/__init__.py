"""Request plumbing shared by the pages and the API: middleware.py (audit context, request ids, the
cached fast path of API reads), cache.py (the Redis cache backend), page_cache.py, paging.py (deep
pages by key), health.py (/healthz, /readyz), security.py (headers, CSP, the throttled sign-in page).
Uses access/ (tokens, throttling), catalog/generation.py and audit.py; holds no business rule.
"""

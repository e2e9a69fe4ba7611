"""Slipway settings: one module, driven by environment variables, each with an embedded default.

The defaults work offline with nothing running: SQLite and a filesystem Celery broker under the
data directory, and the local repository host. Production sets DATABASE_URL, CELERY_BROKER_URL,
SECRET_KEY, ALLOWED_HOSTS and the SLIPWAY_* variables (see README.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()


def secret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


DATA_DIR = Path(env.str("SLIPWAY_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env.bool("SLIPWAY_REQUIRE_SECRET_KEY", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off in production.")
    # The embedded default: a key kept in the data directory, so sessions survive restarts and no
    # two installations share one. Production sets SECRET_KEY (SLIPWAY_REQUIRE_SECRET_KEY=1).
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# On Kubernetes, the pod's own address (from the downward API): Prometheus scrapes each pod by address.
if env.str("SLIPWAY_POD_IP", default=""):
    _pod_ip = env.str("SLIPWAY_POD_IP")
    ALLOWED_HOSTS.append(f"[{_pod_ip}]" if ":" in _pod_ip else _pod_ip)  # an IPv6 host is written [addr]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "services",
]

MIDDLEWARE = [
    # Outermost: counts every answer, those of the middleware below included (services/http/metrics.py).
    "services.http.metrics.MetricsMiddleware",
    # First, so every response gets the security headers (the API's cached fast path, static files,
    # errors) and every /api/ request is counted, including those the fast path answers.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "services.http.security.ContentSecurityPolicyMiddleware",
    "services.access.throttling.ApiThrottleMiddleware",
    "services.api.errors.ApiAddressLengthMiddleware",  # an over-long /api/ address: a JSON 414
    "services.http.middleware.RejectNulMiddleware",
    "services.http.middleware.FastApiMiddleware",
    "services.http.middleware.AuditContextMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# No page or endpoint takes a file, and DATA_UPLOAD_MAX_MEMORY_SIZE does not count file parts: the one
# upload handler refuses each file part (a 400) before its body is read, kept or written to disk
# (services/http/uploads.py); Django itself refuses a second file part, should the handler change.
FILE_UPLOAD_HANDLERS = ["services.http.uploads.RefuseFileUploads"]
DATA_UPLOAD_MAX_NUMBER_FILES = 1

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "services.web.context_processors.portal",
            ],
            # The pages' template tags live with the pages (services/web/), not in the app's top-level
            # `templatetags` package where Django looks by default.
            "libraries": {"slipway": "services.web.templatetags.slipway"},
        },
    },
]

# Database: SQLite under the data directory unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'slipway.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Measured (FACTS.md): only IMMEDIATE transactions with a 20 s timeout let the web process and a
    # worker write at once without 'database is locked'; a busy_timeout pragma would override it.
    DATABASES["default"]["OPTIONS"] = {
        # cache_size: 32 MB of pages per connection (SQLite's default is 2 MB). A search reads one index
        # row per match; at 10,000 services and 30,000 runbooks, 2,700 matches cost 9.2 ms of CPU in
        # page reads from the OS with 2 MB and 2.7 ms with the index in SQLite's cache (bench/README.md).
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# Persistent connections on SQLite too: opening one (and its PRAGMAs) per request was a fifth of the
# cost of a cached API read (bench/README.md).
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cached answers are keyed by the catalog generation (a database counter every write bumps), so a
# per-process memory cache stays correct with several processes; SLIPWAY_CACHE_URL (e.g. Redis)
# shares it between them.
CACHES = {
    "default": env.cache_url("SLIPWAY_CACHE_URL", default="locmemcache://slipway-default"),
    "responses": env.cache_url("SLIPWAY_CACHE_URL", default="locmemcache://slipway-responses"),
}
# Throttle counters (services/access/throttling.py) must be one count for all processes: the shared
# cache when there is one, else a SQLite file under the data directory (diskcache, kept open between
# requests: ~30 µs an increment, atomic across processes), so limits hold with several web workers on
# the embedded setup too.
CACHES["counters"] = (
    env.cache_url("SLIPWAY_CACHE_URL") if env.str("SLIPWAY_CACHE_URL", default="")
    else {"BACKEND": "services.http.cache.SharedFileCache", "LOCATION": str(DATA_DIR / "counters"), "TIMEOUT": 3600,
          # Counters and short-lived answers: nothing worth an fsync (synchronous OFF halves an increment).
          "SHARDS": 1, "OPTIONS": {"size_limit": 64 * 2**20, "sqlite_synchronous": 0}}
)
if CACHES["counters"]["BACKEND"].endswith("RedisCache"):
    CACHES["counters"]["KEY_PREFIX"] = "cnt"
CACHES["default"].setdefault("OPTIONS", {})
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    CACHES["default"]["OPTIONS"]["MAX_ENTRIES"] = 20_000
    # Bounded so a web worker stays small whatever the mix of queries: at most 300 answers of at most
    # 256 KiB (services.http.middleware.MAX_CACHED_BODY); a page of 50 services is ~35 KiB.
    CACHES["responses"]["OPTIONS"] = {"MAX_ENTRIES": 300}
else:
    CACHES["responses"]["KEY_PREFIX"] = "resp"
for _cache in CACHES.values():
    if _cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        _cache["BACKEND"] = "services.http.cache.RedisCache"  # one redis-py client per pool, not per operation
SLIPWAY_RESPONSE_CACHE_SECONDS = env.int("SLIPWAY_RESPONSE_CACHE_SECONDS", default=600)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Every sign-in goes through the throttle first (services/access/throttling.py: it refuses in
# authenticate() itself, so the sign-in page, the admin's and anything else that checks a password
# share one set of limits).
AUTHENTICATION_BACKENDS = ["services.access.throttling.SignInThrottleBackend"]  # Django's ModelBackend, throttled
# Optional single sign-on (OpenID Connect), on when SLIPWAY_OIDC_CLIENT_ID is set.
SLIPWAY_OIDC_ENABLED = bool(env.str("SLIPWAY_OIDC_CLIENT_ID", default=""))
if SLIPWAY_OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "services.access.oidc.SlipwayOIDCBackend"]
    OIDC_RP_CLIENT_ID = env.str("SLIPWAY_OIDC_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = secret("SLIPWAY_OIDC_CLIENT_SECRET")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("SLIPWAY_OIDC_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = env.str("SLIPWAY_OIDC_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = env.str("SLIPWAY_OIDC_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = env.str("SLIPWAY_OIDC_JWKS_ENDPOINT", default="")
    OIDC_RP_SIGN_ALGO = env.str("SLIPWAY_OIDC_SIGN_ALGO", default="RS256")
    OIDC_RP_SCOPES = env.str("SLIPWAY_OIDC_SCOPES", default="openid email profile")
    LOGIN_REDIRECT_URL_FAILURE = "/accounts/login/"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve static files from the finders too, so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Celery. The database, not the broker, is the record of work to do: the filesystem transport
# deletes a message when a worker takes it, so a killed worker loses it (FACTS.md).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("SLIPWAY_CELERY_QUEUE", default="slipway")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redeliver an unacked message ~10 s after a killed worker restarts, not ~100 s (FACTS.md).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("SLIPWAY_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": 2,
        "unacked_restore_throttle": 1,
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "slipway.worker_heartbeat", "schedule": 30.0},
    "sweep-runs": {"task": "slipway.sweep_runs", "schedule": env.float("SLIPWAY_SWEEP_SECONDS", default=15.0)},
    "refresh-due-locations": {"task": "slipway.refresh_due_locations",
                              "schedule": env.float("SLIPWAY_LOCATION_SWEEP_SECONDS", default=60.0)},
}
# Publishing must not hang a web request when the broker is down: the run is already saved and
# the sweeper queues it once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = 3

# REST framework.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "services.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "services.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "services.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "services.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Slipway API",
    "DESCRIPTION": "Service catalog, ownership lookup and golden-path scaffolder of an internal developer platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RunStateEnum": "services.models.ProvisioningRun.State",
        "StepStateEnum": "services.models.RunStep.State",
        "TokenStateEnum": ["active", "expired", "revoked"],
        "LocationKindEnum": "services.models.Location.Kind",
        "LocationStateEnum": "services.models.Location.State",
        "SourceStateEnum": "services.models.LocationSource.State",
        "DefinitionStateEnum": "services.models.Api.DefinitionState",
        "EntryKindEnum": ["API", "Component", "Domain", "Group", "Resource", "System", "User"],
        "OriginKindEnum": "services.models.Origin",
    },
}

# Provisioning runs (the scaffolder).
# A worker holds a run with a short lease, renewed every third of it while a step runs (a heartbeat),
# so a killed worker's run is resumed within lease + sweep ≈ 45 s; a step running longer than
# SLIPWAY_STEP_TIMEOUT_SECONDS is presumed hung: its lease is left to expire and another worker resumes.
SLIPWAY_RUN_LEASE_SECONDS = env.int("SLIPWAY_RUN_LEASE_SECONDS", default=30)
SLIPWAY_STEP_TIMEOUT_SECONDS = env.int("SLIPWAY_STEP_TIMEOUT_SECONDS", default=300)
SLIPWAY_STEP_MAX_ATTEMPTS = env.int("SLIPWAY_STEP_MAX_ATTEMPTS", default=8)
# How many runs one person or one team may have queued or running at once, and start in 24 hours
# (0: no limit). Over a limit a new run is refused with a 429 that says when to try again, so no one
# can queue hundreds of runs in front of every other team's behind the shared GitHub write budget.
SLIPWAY_RUNS_ACTIVE_PER_PERSON = env.int("SLIPWAY_RUNS_ACTIVE_PER_PERSON", default=5)
SLIPWAY_RUNS_ACTIVE_PER_TEAM = env.int("SLIPWAY_RUNS_ACTIVE_PER_TEAM", default=10)
SLIPWAY_RUNS_PER_PERSON_PER_DAY = env.int("SLIPWAY_RUNS_PER_PERSON_PER_DAY", default=30)
SLIPWAY_RUNS_PER_TEAM_PER_DAY = env.int("SLIPWAY_RUNS_PER_TEAM_PER_DAY", default=60)
SLIPWAY_RETRY_BASE_SECONDS = env.float("SLIPWAY_RETRY_BASE_SECONDS", default=2.0)
SLIPWAY_RETRY_MAX_SECONDS = env.float("SLIPWAY_RETRY_MAX_SECONDS", default=300.0)
SLIPWAY_SWEEP_SECONDS = env.float("SLIPWAY_SWEEP_SECONDS", default=15.0)

# Locations (the living catalog): each is refreshed every SLIPWAY_LOCATION_REFRESH_SECONDS (spread by a
# per-location offset of up to a tenth of it) and at once on a signed GitHub push webhook. Entries a
# location no longer describes are orphaned (kept, shown); SLIPWAY_CATALOG_DELETE_ORPHANS deletes them.
SLIPWAY_LOCATION_REFRESH_SECONDS = env.int("SLIPWAY_LOCATION_REFRESH_SECONDS", default=1800)
SLIPWAY_CATALOG_DELETE_ORPHANS = env.bool("SLIPWAY_CATALOG_DELETE_ORPHANS", default=False)
# Reads of one refresh sent to the host at once (an organisation's first discovery reads every
# repository): reads only, far under GitHub's 100 concurrent requests per credential.
SLIPWAY_SYNC_READ_CONCURRENCY = env.int("SLIPWAY_SYNC_READ_CONCURRENCY", default=8)
# API definitions given by URL (`$text`/`$json`/`$yaml` placeholders, issue #14) are fetched by workers
# (services/hosts/fetch.py), over https, from the descriptor's repository host and the hosts listed here
# (`host` or `host:port`, comma-separated), and never from a loopback, private or link-local address,
# whatever a name resolves to. A definition over either limit below is kept unresolved, with the reason.
SLIPWAY_DEFINITION_HOSTS = [entry.strip() for entry in env.list("SLIPWAY_DEFINITION_HOSTS", default=[]) if entry.strip()]
for _entry in SLIPWAY_DEFINITION_HOSTS:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?", _entry):
        raise ImproperlyConfigured(f"SLIPWAY_DEFINITION_HOSTS: {_entry!r} is not `host` or `host:port` "
                                   "(no scheme, no path)")
SLIPWAY_DEFINITION_MAX_BYTES = env.int("SLIPWAY_DEFINITION_MAX_BYTES", default=2_000_000)
SLIPWAY_DEFINITION_FETCH_SECONDS = env.float("SLIPWAY_DEFINITION_FETCH_SECONDS", default=10.0)
# Pause before each step: for demos and for tests that must catch a run mid-way. 0 in production.
SLIPWAY_STEP_DELAY_SECONDS = env.float("SLIPWAY_STEP_DELAY_SECONDS", default=0.0)

# Where golden-path templates live (cookiecutter templates, one folder each).
SLIPWAY_SCAFFOLDS_DIR = Path(env.str("SLIPWAY_SCAFFOLDS_DIR", default=str(BASE_DIR / "scaffolds")))

# Repository hosts (used by the scaffolder).
SLIPWAY_REPO_HOST = env.str("SLIPWAY_REPO_HOST", default="local")
SLIPWAY_GITHUB_API_URL = env.str("SLIPWAY_GITHUB_API_URL", default="https://api.github.com")
SLIPWAY_GITHUB_ORG = env.str("SLIPWAY_GITHUB_ORG", default="")
SLIPWAY_GITHUB_TOKEN = secret("SLIPWAY_GITHUB_TOKEN")
# The secret GitHub signs webhook deliveries with (X-Hub-Signature-256); without it /webhooks/github/
# refuses every delivery (503). Give it at least 32 characters: openssl rand -hex 32.
SLIPWAY_GITHUB_WEBHOOK_SECRET = secret("SLIPWAY_GITHUB_WEBHOOK_SECRET")
SLIPWAY_GITHUB_APP_ID = env.str("SLIPWAY_GITHUB_APP_ID", default="")
SLIPWAY_GITHUB_APP_PRIVATE_KEY = secret("SLIPWAY_GITHUB_APP_PRIVATE_KEY")
SLIPWAY_GITHUB_INSTALLATION_ID = env.str("SLIPWAY_GITHUB_INSTALLATION_ID", default="")
# GitHub asks for at least a second between content-creating requests per credential; shared by
# every worker process through the database (tests set 0).
SLIPWAY_GITHUB_WRITE_SPACING_SECONDS = env.float("SLIPWAY_GITHUB_WRITE_SPACING_SECONDS", default=1.0)
# And at most this many writes per credential in any 60 minutes (GitHub's secondary limit is 500; the
# rest is headroom for other writers with the same token); 0 turns the budget off. A write whose slot
# is further than SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS away does not hold the worker: its step is
# handed back and resumed then (services/hosts/budget.py).
SLIPWAY_GITHUB_WRITES_PER_HOUR = env.int("SLIPWAY_GITHUB_WRITES_PER_HOUR", default=450)
SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS = env.float("SLIPWAY_GITHUB_WRITE_MAX_SLEEP_SECONDS", default=30.0)
# How long one GitHub call may take, in whole seconds (PyGithub's rule), before it counts as a
# timeout (retried like a 5xx). Keep it well under SLIPWAY_STEP_TIMEOUT_SECONDS, so that a hung call
# never outlives the worker's hold on its run.
SLIPWAY_GITHUB_TIMEOUT_SECONDS = env.int("SLIPWAY_GITHUB_TIMEOUT_SECONDS", default=15)
# The portal's own address: links to runs (a run's repository homepage points at its run page).
SLIPWAY_PUBLIC_URL = env.str("SLIPWAY_PUBLIC_URL", default="http://localhost:8000")
SLIPWAY_REPOSITORY_DIR = Path(env.str("SLIPWAY_REPOSITORY_DIR", default=str(DATA_DIR / "repositories")))
# The owner (organisation) under which the local host keeps repositories.
SLIPWAY_LOCAL_OWNER = env.str("SLIPWAY_LOCAL_OWNER", default="slipway")
# The host assumed for a bare `owner/name` repository reference.
SLIPWAY_DEFAULT_GIT_HOST = env.str("SLIPWAY_DEFAULT_GIT_HOST", default="github.com").lower()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG and env.bool("SLIPWAY_BEHIND_TLS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Probes and Prometheus speak plain HTTP to the pod inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31_536_000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Joining browsers' HSTS preload list binds the whole domain for good: the domain owner's call.
    SECURE_HSTS_PRELOAD = env.bool("SLIPWAY_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script or style anywhere, no third-party origin (services/http/security.py).
SLIPWAY_CONTENT_SECURITY_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

# Throttling (services/access/throttling.py): fixed windows counted in the "default" cache, so set
# SLIPWAY_CACHE_URL with several processes, or each process counts on its own. "N/period" or "off".
SLIPWAY_THROTTLE_TOKEN_RATE = env.str("SLIPWAY_THROTTLE_TOKEN_RATE", default="6000/min")
SLIPWAY_THROTTLE_ANON_RATE = env.str("SLIPWAY_THROTTLE_ANON_RATE", default="600/min")
SLIPWAY_THROTTLE_BAD_TOKEN_RATE = env.str("SLIPWAY_THROTTLE_BAD_TOKEN_RATE", default="30/15min")
SLIPWAY_LOGIN_FAILURE_RATE = env.str("SLIPWAY_LOGIN_FAILURE_RATE", default="5/15min")
SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE = env.str("SLIPWAY_LOGIN_ADDRESS_FAILURE_RATE", default="50/15min")
# Reverse proxies in front of the web processes that append to X-Forwarded-For (0: use the peer address).
SLIPWAY_TRUSTED_PROXIES = env.int("SLIPWAY_TRUSTED_PROXIES", default=0)

# Prometheus metrics at /metrics (services/http/metrics.py): served to `Authorization: Bearer <token>`
# and to staff sessions; unset, the URL is a 404 to everyone but staff. A short token could be guessed.
SLIPWAY_METRICS_TOKEN = secret("SLIPWAY_METRICS_TOKEN")
if SLIPWAY_METRICS_TOKEN and len(SLIPWAY_METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("SLIPWAY_METRICS_TOKEN must be at least 32 characters (openssl rand -hex 32).")

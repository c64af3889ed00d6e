"""Baton settings. Nothing set → embedded defaults (SQLite, in-process channel layer, eager tasks,
an in-process timer for sweeps). DATABASE_URL / REDIS_URL / SECRET_KEY → the production stack."""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = not REDIS_URL

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if DATABASE_URL and not DEBUG and not env_bool("BATON_ALLOW_DEV_SECRET", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set")
    SECRET_KEY = "baton-dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "guardian",
    "channels",
    "anymail",  # inbound email webhooks (portal/integrations/email_inbound.py)
    "reversion",  # rule versions: governance/versions/
    "portal",
    "journeys",
    "handoffs",
    "governance",
    "governance.dashboard",
    "governance.replay",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "portal.outage.OutageMiddleware",  # database unreachable → 503 + Retry-After, not a 500
    "portal.middleware.RequestSanityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.ratelimit.PortalWriteRateLimitMiddleware",  # per person; the API's is a DRF throttle
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = None

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

if DATABASE_URL:
    # Under ASGI every request runs in its own thread; persistent per-thread connections would
    # pile up, so connections come from psycopg's pool instead (CONN_MAX_AGE must be 0). Health
    # checks make the pool test a connection before lending it: after PostgreSQL restarts, its
    # broken connections are replaced instead of failing one request each (docs/reliability.md).
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=True)
    }
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # JIT compilation pays ~50 ms to start on queries whose estimated cost crosses its
        # threshold; the portal's queries are short index reads (docs/performance-plans.md).
        DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool(
        "BATON_DB_POOL", default=True
    ):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("BATON_DB_POOL_MIN", 2, minimum=0),
            "max_size": env_int("BATON_DB_POOL_MAX", 20, minimum=1),
            "timeout": 10,
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("BATON_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # WAL + IMMEDIATE: readers run alongside, writers queue (no "database is locked").
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
    # Covering indexes (INCLUDE columns: the inbox's) are PostgreSQL's; SQLite skips them, and
    # the embedded mode's data is small enough not to need them.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row
GUARDIAN_RAISE_403 = False

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing root before collectstatic
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # serve straight from apps in dev; collectstatic in production
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("BATON_MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)

# Single signals sent at the same moment share one transaction (journeys/ingestion.py,
# portal/groupcommit.py). Off in the unit tests, whose test transaction one thread holds.
BATON_INGEST_GROUP_COMMIT = env_bool("BATON_INGEST_GROUP_COMMIT", default=True)

# --- Rate limits (portal/ratelimit.py, docs/api.md "Rate limits"): requests per minute, 0 = off.
# Counters are atomic in Redis (shared by every process); without REDIS_URL, in process memory.
BATON_RATE_LIMIT_KEY_PER_MINUTE = env_int("BATON_RATE_LIMIT_KEY_PER_MINUTE", 6000, minimum=0)
BATON_RATE_LIMIT_USER_API_PER_MINUTE = env_int(
    "BATON_RATE_LIMIT_USER_API_PER_MINUTE", 600, minimum=0
)
BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE = env_int(
    "BATON_RATE_LIMIT_USER_WRITES_PER_MINUTE", 120, minimum=0
)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "baton",
        # A dead Redis must not hold requests: the limiter gives up fast and lets them through.
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ratelimit"},
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = True

# --- Security (production gets the strict values; see docs/operations.md) ---
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
if env_bool("BATON_HTTPS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("BATON_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("BATON_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
}

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api_pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "portal.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api_parsers.SafeJSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["portal.ratelimit.ApiRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Baton API",
    "DESCRIPTION": "Signals in, handoffs out: Baton's public interface (v1).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # One name for a choice set several fields share (else a W001 under check --deploy).
    "ENUM_NAME_OVERRIDES": {"SlaTargetEnum": "handoffs.choices.SlaTarget"},
}

# --- Realtime (Channels) ---
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout must outlast channels_redis' 5 s blocking receive, or idle sockets
            # die with redis TimeoutError every few seconds.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

EVENT_LOG_RETENTION_DAYS = env_int("BATON_EVENT_LOG_RETENTION_DAYS", 7, minimum=7)

# --- Background work (Celery) ---
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("BATON_CELERY_EAGER", default=EMBEDDED)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "max_retries": 2}
SWEEP_INTERVAL_SECONDS = env_int("BATON_SWEEP_INTERVAL_SECONDS", 15, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "handoffs.tasks.outbox_sweep", "schedule": SWEEP_INTERVAL_SECONDS},
    "enrollments-sweep": {
        "task": "journeys.tasks.enrollments_sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "event-log-prune": {"task": "portal.tasks.event_log_prune", "schedule": 3600.0},
    # Waiting handoffs in auto-assigning teams go to whoever became available (docs/assignment.md).
    "assignment-sweep": {
        "task": "handoffs.tasks.assignment_sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    # Handoffs past an SLA due time: flag breached, escalate per policy (docs/sla.md).
    "sla-sweep": {"task": "handoffs.tasks.sla_sweep", "schedule": SWEEP_INTERVAL_SECONDS},
    # Held messages nobody decided in time get their default; deferred touches that went out
    # are recorded (docs/governance.md).
    "approvals-expire": {"task": "governance.tasks.approvals_expire", "schedule": 60.0},
    "deferrals-settle": {
        "task": "governance.tasks.deferrals_settle",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    # Outbound webhooks and Slack/Teams posts: new events, retries, lost tasks (integrations.md).
    "outbound-sweep": {
        "task": "portal.integrations.tasks.outbound_sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "outbound-prune": {"task": "portal.integrations.tasks.outbound_prune", "schedule": 3600.0},
    # The governance dashboard's rollups, at most a minute stale (docs/dashboard.md).
    "dashboard-rollups": {
        "task": "governance.dashboard.tasks.rollups_refresh",
        "schedule": 30.0,
    },
    # …and rebuilt whole once a day, for rows deleted from the raw tables.
    "dashboard-rollups-rebuild": {
        "task": "governance.dashboard.tasks.rollups_rebuild",
        "schedule": 86400.0,
    },
}
# Tasks outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["portal.integrations.tasks"]
# Governance (docs/governance.md): how long a held message waits for a person and what happens
# then (a promise rule may say otherwise), and how recently a contact must have written for an
# automated answer to count as conversation (not held back by caps or quiet hours).
BATON_APPROVAL_EXPIRY_MINUTES = env_int("BATON_APPROVAL_EXPIRY_MINUTES", 1440, minimum=1)
BATON_APPROVAL_EXPIRY_ACTION = env_str("BATON_APPROVAL_EXPIRY_ACTION", "reject")
if BATON_APPROVAL_EXPIRY_ACTION not in ("send", "reject"):
    raise ImproperlyConfigured("BATON_APPROVAL_EXPIRY_ACTION must be send or reject")
BATON_GOVERNANCE_REPLY_WINDOW_MINUTES = env_int(
    "BATON_GOVERNANCE_REPLY_WINDOW_MINUTES", 60, minimum=0
)
# The in-process timer (embedded mode) runs CELERY_BEAT_SCHEDULE itself: portal/embedded.py.
BATON_EMBEDDED_TIMER = env_bool("BATON_EMBEDDED_TIMER", default=EMBEDDED)

# --- Email: the "email" outbox channel sends through Django's default mailer ---
# Django 6.1 configures mail with MAILERS (the EMAIL_HOST-style settings are deprecated), so the
# familiar variable names are read from the environment and mapped onto its OPTIONS here.
_mail_backend = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if DATABASE_URL
    else "django.core.mail.backends.filebased.EmailBackend",  # dev: read var/mail/*.log
)
if _mail_backend == "django.core.mail.backends.smtp.EmailBackend":
    _use_tls = env_bool("EMAIL_USE_TLS", default=False)
    _use_ssl = env_bool("EMAIL_USE_SSL", default=False)
    if _use_tls and _use_ssl:
        raise ImproperlyConfigured("set at most one of EMAIL_USE_TLS and EMAIL_USE_SSL")
    _mail_options: dict[str, object] = {
        "host": env_str("EMAIL_HOST", "localhost"),
        "port": env_int("EMAIL_PORT", 465 if _use_ssl else 587 if _use_tls else 25, minimum=1),
        "username": env_str("EMAIL_HOST_USER"),
        "password": env_str("EMAIL_HOST_PASSWORD"),
        "use_tls": _use_tls,
        "use_ssl": _use_ssl,
        # A hung server must not hold a worker: connecting and every command time out.
        "timeout": env_int("EMAIL_TIMEOUT", 20, minimum=1),
    }
elif _mail_backend == "django.core.mail.backends.filebased.EmailBackend":
    # The backend creates the directory when it is first used.
    _mail_options = {"file_path": env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))}
else:
    _mail_options = {}
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}

DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Baton <baton@localhost>")
_from_address = parseaddr(DEFAULT_FROM_EMAIL)[1]
if "@" not in _from_address:
    raise ImproperlyConfigured(f"DEFAULT_FROM_EMAIL needs an address, got {DEFAULT_FROM_EMAIL!r}")
BATON_EMAIL_DOMAIN = env_str("BATON_EMAIL_DOMAIN", _from_address.rpartition("@")[2])
BATON_EMAIL_DEFAULT_SUBJECT = env_str("BATON_EMAIL_DEFAULT_SUBJECT", "A message from Baton")
BATON_EMAIL_REPLY_TO = env_list("BATON_EMAIL_REPLY_TO", [])

# --- Integrations in: Segment, Twilio, inbound email, signed webhooks (docs/integrations.md) ---
# The public base URL senders call (https://baton.example.com): Twilio signs the URL it called,
# which a proxy may have rewritten. Empty: the URL as this server received it.
BATON_PUBLIC_URL = env_str("BATON_PUBLIC_URL").rstrip("/")
if BATON_PUBLIC_URL and not BATON_PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"BATON_PUBLIC_URL must be a URL, got {BATON_PUBLIC_URL!r}")
# Twilio's webhooks are signed with the account's auth token; without it SMS/WhatsApp in is off.
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
# A per-conversation Reply-To address for outbound email, e.g. reply+{token}@in.example.com;
# replies to it thread even when a mail client drops In-Reply-To. Empty: BATON_EMAIL_REPLY_TO.
BATON_EMAIL_REPLY_ADDRESS = env_str("BATON_EMAIL_REPLY_ADDRESS")
if BATON_EMAIL_REPLY_ADDRESS and (
    BATON_EMAIL_REPLY_ADDRESS.count("{token}") != 1
    or "@" not in BATON_EMAIL_REPLY_ADDRESS.partition("{token}")[2]
):
    raise ImproperlyConfigured(
        "BATON_EMAIL_REPLY_ADDRESS needs one {token} before the @: reply+{token}@in.example.com"
    )
# Signed webhooks: how far a delivery's timestamp may be from now, either way.
BATON_WEBHOOK_TOLERANCE_SECONDS = env_int("BATON_WEBHOOK_TOLERANCE_SECONDS", 300, minimum=1)
# Inbound email through django-anymail. Off until ANYMAIL_WEBHOOK_SECRET ("user:password", the
# basic auth the provider sends) is set; Mailgun also checks its signing key.
ANYMAIL = {
    key: value
    for key, value in {
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET"),
        "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY"),
    }.items()
    if value
}

# Money in rules is compared in this currency; ops keep the other currencies' rates in admin.
BATON_BASE_CURRENCY = env_str("BATON_BASE_CURRENCY", "GBP").upper()

# --- Channels out: which backend delivers each outbox channel ---
BATON_CHANNEL_BACKENDS = {
    "email": env_str("BATON_EMAIL_BACKEND", "handoffs.channels.EmailBackend"),
    "sms": env_str("BATON_SMS_BACKEND", "handoffs.channels.LocalBackend"),
    "whatsapp": env_str("BATON_WHATSAPP_BACKEND", "handoffs.channels.LocalBackend"),
    "chat": env_str("BATON_CHAT_BACKEND", "handoffs.channels.ChatBackend"),
}
# The chat widget (docs/integrations.md): how long a session link works, how often the page
# asks for new messages, and which sites may embed it (CSP frame-ancestors; * = any).
BATON_CHAT_TOKEN_DAYS = env_int("BATON_CHAT_TOKEN_DAYS", 30, minimum=1)
BATON_CHAT_POLL_SECONDS = env_int("BATON_CHAT_POLL_SECONDS", 2, minimum=1)
BATON_CHAT_FRAME_ANCESTORS = env_list("BATON_CHAT_FRAME_ANCESTORS", ["*"])
OUTBOX_MAX_ATTEMPTS = env_int("BATON_OUTBOX_MAX_ATTEMPTS", 6, minimum=1)
# How long a worker holds an outbox entry while sending (longer than any send can take): one
# killed mid-send leaves the entry to the sweep once this expires.
OUTBOX_LEASE_SECONDS = env_int("BATON_OUTBOX_LEASE_SECONDS", 120, minimum=5)
# SMS and WhatsApp out through Twilio (BATON_SMS_BACKEND / BATON_WHATSAPP_BACKEND =
# handoffs.channels.TwilioBackend): the account, and the senders — a Messaging Service, or from
# numbers. TWILIO_API_BASE_URL replaces https://api.twilio.com (a local fake in tests).
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
TWILIO_SMS_FROM = env_str("TWILIO_SMS_FROM")
TWILIO_WHATSAPP_FROM = env_str("TWILIO_WHATSAPP_FROM")
TWILIO_API_BASE_URL = env_str("TWILIO_API_BASE_URL").rstrip("/")
TWILIO_TIMEOUT_SECONDS = env_int("TWILIO_TIMEOUT_SECONDS", 15, minimum=1)

# --- Integrations out: webhooks to subscribers, Slack/Teams posts (docs/integrations.md) ---
BATON_OUTBOUND_MAX_ATTEMPTS = env_int("BATON_OUTBOUND_MAX_ATTEMPTS", 8, minimum=1)
BATON_OUTBOUND_RETRY_BASE_SECONDS = env_int("BATON_OUTBOUND_RETRY_BASE_SECONDS", 30, minimum=1)
BATON_OUTBOUND_RETRY_MAX_SECONDS = env_int("BATON_OUTBOUND_RETRY_MAX_SECONDS", 6 * 3600, minimum=1)
BATON_OUTBOUND_TIMEOUT_SECONDS = env_int("BATON_OUTBOUND_TIMEOUT_SECONDS", 10, minimum=1)
BATON_OUTBOUND_RETENTION_DAYS = env_int("BATON_OUTBOUND_RETENTION_DAYS", 30, minimum=1)

BATON_DEMO_PASSWORD = env_str("BATON_DEMO_PASSWORD", "baton-demo")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.channels.server": {"level": "WARNING"},
        "baton.security": {"level": "INFO"},
    },
}

"""Vigil settings. Every value that differs between machines comes from the environment;
the defaults are for a developer's machine (PostgreSQL and Redis on 127.0.0.1)."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from config.env import env_bool, env_int, env_list, env_str, fail

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=True)

_DEV_SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        fail("SECRET_KEY is not set and DEBUG is off; set SECRET_KEY to a long random string.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

_DATABASE_URL = env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigil")
try:
    _database = dj_database_url.parse(_DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except ValueError as exc:
    fail(f"DATABASE_URL={_DATABASE_URL!r} is not a database URL ({exc}).")
if _database.get("ENGINE") != "django.db.backends.postgresql":
    fail(f"DATABASE_URL must point at PostgreSQL (postgres://…), not {_DATABASE_URL!r}.")
_database.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
_database["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", f"test_{_database['NAME']}")}
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "django_filters",
    "guardian",
    "auditlog",
    "django_fsm",
    "django_celery_beat",
    "tenancy",
    "taxonomy",
    "incidents",
    "incidents.channels",
    "incidents.statuspage",
    "integrations",
    "postmortems",
    "compliance",
    "compliance.reports",
    "compliance.reviews",
    "compliance.retention",
    "reporting",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
    "config_as_code",
    "integrations.ticketing",
]
# The admin site is cross-tenant and must run unscoped (docs/tenancy.md).
INSTALLED_APPS[0] = "tenancy.apps.VigilAdminConfig"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tenancy.middleware.AuditContextMiddleware",
    "tenancy.middleware.OrganizationMiddleware",
]

ROOT_URLCONF = "config.urls"

# — REST API (/api/v1/, docs/api.md) ————————————————————————————————————————————————
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "api.permissions.TokenScope",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Cursor",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
SPECTACULAR_SETTINGS = {
    "TITLE": "Vigil API",
    "DESCRIPTION": "Read and drive incidents without a browser. Authenticate with a personal "
    "API token: `Authorization: Bearer vgl_…` (create one under your settings).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "APPEND_COMPONENTS": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "SECURITY": [{"bearer": []}],
}
# Choice sets that share a field name get names of their own in the schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "IncidentStatusEnum": "incidents.lifecycle.Status",
    "IncidentKindEnum": "incidents.models.Incident.Kind",
    "TimelineKindEnum": "incidents.models.TimelineEvent.Kind",
    "ActionItemStatusEnum": "postmortems.models.ActionItem.Status",
}
# Every POST documents Idempotency-Key (api/schema.py), after the default enum hook.
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [
    "drf_spectacular.hooks.postprocess_schema_enums",
    "api.schema.add_idempotency_header",
]
WSGI_APPLICATION = "config.wsgi.application"

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
                "tenancy.context_processors.organization",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

AUTH_USER_MODEL = "tenancy.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 7)

# guardian: no anonymous user row (every page needs a login).
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

# auditlog: one org-aware log table, read through the base manager so diffs are right in and
# out of an organisation's scope (docs/tenancy.md).
AUDITLOG_LOGENTRY_MODEL = "tenancy.AuditEntry"
AUDITLOG_USE_BASE_MANAGER = True
AUDITLOG_STORE_JSON_CHANGES = True
# Foreign keys are logged as the related row's name at the time of the change: the record
# reads without lookups and survives renames.
AUDITLOG_USE_FK_STRING_REPRESENTATION = True

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Hashed, compressed names after `collectstatic` in production; plain files otherwise.
_STATIC_BACKEND = (
    "whitenoise.storage.CompressedManifestStaticFilesStorage"
    if env_bool("STATIC_MANIFEST", default=not DEBUG)
    else "django.contrib.staticfiles.storage.StaticFilesStorage"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": _STATIC_BACKEND},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Vigil <vigil@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# HTTPS hardening, on behind a TLS-terminating proxy in production.
HTTPS = env_bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 31_536_000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 3, "visibility_timeout": 3600}
# The sweeper has a queue of its own so deadlines never wait behind other work (Procfile:
# "sweeper" serves it); every worker may serve it too.
CELERY_TASK_ROUTES = {"incidents.tasks.sweep_sla_task": {"queue": "sla"}}
SLA_SWEEP_SECONDS = float(env_str("SLA_SWEEP_SECONDS", "1"))
CELERY_BEAT_SCHEDULE = {
    # The sweeper is how deadlines fire; a message that expires unprocessed is harmless
    # because the next one claims the same rows.
    "sweep-sla": {
        "task": "incidents.tasks.sweep_sla_task",
        "schedule": SLA_SWEEP_SECONDS,
        "options": {"expires": 10},
    },
    "sweep-deliveries": {
        "task": "incidents.tasks.sweep_deliveries_task",
        "schedule": 15.0,
        "options": {"expires": 60},
    },
    "sweep-alerts": {
        "task": "integrations.tasks.sweep_alerts_task",
        "schedule": 5.0,
        "options": {"expires": 30},
    },
    "sweep-ownership-requests": {
        "task": "incidents.tasks.sweep_ownership_requests_task",
        "schedule": 60.0,
    },
    # Post-mortem review reminders and escalations, action-item reminders.
    # Regulatory deadlines: reminders at 50 % / 80 % of each window, escalation when missed.
    "sweep-compliance": {
        "task": "compliance.tasks.sweep_compliance_task",
        "schedule": 30.0,
        "options": {"expires": 60},
    },
    "sweep-postmortems": {
        "task": "postmortems.tasks.sweep_postmortems_task",
        "schedule": 60.0,
        "options": {"expires": 120},
    },
    # Incident channels (Slack creation, outbound messages) due for a retry or lost by Redis.
    "sweep-channels": {
        "task": "incidents.channels.tasks.sweep_channels_task",
        "schedule": 10.0,
        "options": {"expires": 30},
    },
    # Access reviews: start the campaigns that are due, then reminders and escalations.
    "sweep-access-reviews": {
        "task": "compliance.reviews.tasks.sweep_access_reviews_task",
        "schedule": 3600.0,
        "options": {"expires": 1800},
    },
    # Scheduled executive reports: render, store and e-mail the ones that are due.
    "sweep-executive-reports": {
        "task": "reporting.tasks.sweep_executive_reports_task",
        "schedule": 300.0,
        "options": {"expires": 240},
    },
    # Daily KPI roll-ups: rebuild the days that changed (the dashboard counts them live
    # meanwhile) and build the days never built.
    "refresh-reporting-rollups": {
        "task": "reporting.tasks.refresh_rollups_task",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # Retention: delete or anonymise what is past its policy and not under a legal hold.
    "purge-retention": {
        "task": "compliance.retention.tasks.purge_retention_task",
        "schedule": crontab(hour=3, minute=17),
        "options": {"expires": 6 * 3600},
    },
    # Every organisation's audit hash chain, recomputed nightly; the outcome shows on the audit
    # page and a broken chain names its first broken link there.
    "verify-audit-chains": {
        "task": "compliance.tasks.verify_audit_chains_task",
        "schedule": crontab(hour=2, minute=40),
        "options": {"expires": 6 * 3600},
    },
}

_LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if _LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    fail(f"LOG_LEVEL={_LOG_LEVEL!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact_hook_secrets": {"()": "config.redact.RedactHookSecrets"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_hook_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": _LOG_LEVEL},
}

# PagerDuty paging (integrations/pagerduty/): the Events API v2 base URL (tests point it at a
# local stand-in) and the key that seals stored integration secrets (default: SECRET_KEY).
PAGERDUTY_EVENTS_URL = env_str("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.com").rstrip("/")
VIGIL_SECRETS_KEY = env_str("VIGIL_SECRETS_KEY")

# — Ticketing sync (docs/ticketing.md) ———————————————————————————————————————————————————
# A Fernet key for stored tracker credentials; empty: one derived from SECRET_KEY.
TICKETING_ENCRYPTION_KEY = env_str("TICKETING_ENCRYPTION_KEY", "")
CELERY_BEAT_SCHEDULE["sweep-ticketing"] = {
    "task": "integrations.ticketing.tasks.sweep_ticket_calls_task",
    "schedule": 10.0,
    "options": {"expires": 30},
}

# — Structured logs (docs/logging.md) ————————————————————————————————————————————————————
# LOG_FORMAT=json: one JSON object per line on stdout (the default in production);
# plain: the human line (the default with DEBUG on). Both scrub secrets and personal data.
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    fail(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING["formatters"] = {
    "json": {"()": "config.logging.JsonFormatter"},
    "plain": {"()": "config.logging.PlainFormatter"},
}
LOGGING["handlers"]["console"].update(
    formatter=LOG_FORMAT, stream="ext://sys.stdout", filters=["redact_hook_secrets"]
)
MIDDLEWARE.insert(0, "config.middleware.RequestIdMiddleware")

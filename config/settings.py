"""Vigil settings. Every value that differs between machines comes from the environment;
the defaults are for a developer's machine (PostgreSQL and Redis on 127.0.0.1)."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab

from config.env import env_bool, env_int, env_list, env_str, fail

BASE_DIR = Path(__file__).resolve().parent.parent

# Off unless asked for: a deployment that forgets DEBUG=0 must not show tracebacks. `make run`,
# `make test`, docker-compose.yml and the test settings (config/settings_test.py) turn it on.
DEBUG = env_bool("DEBUG", default=False)

_DEV_SECRET_KEY = "insecure-development-key-only-used-when-DEBUG-is-on"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        fail("SECRET_KEY is not set and DEBUG is off; set SECRET_KEY to a long random string.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Two roles (docs/operations.md, "Database roles and row-level security"): the application's
# connection, which row-level security holds to one organisation per transaction, and the
# owner's, which `migrate` uses (it creates the tables and their policies).
# Without either variable (a developer's machine) the two are vigil_app and postgres; with only
# DATABASE_URL set, the owner is the same role (one role: row-level security does not bind it).
_DATABASE_URL = env_str("DATABASE_URL")
_DATABASE_OWNER_URL = env_str("DATABASE_OWNER_URL") or (
    _DATABASE_URL or "postgres://postgres@127.0.0.1:5432/vigil"
)
_DATABASE_URL = _DATABASE_URL or "postgres://vigil_app@127.0.0.1:5432/vigil"


def _parse_database(name: str, url: str) -> dict:
    try:
        database = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    except ValueError as exc:
        fail(f"{name}={url!r} is not a database URL ({exc}).")
    if database.get("ENGINE") != "django.db.backends.postgresql":
        fail(f"{name} must point at PostgreSQL (postgres://…), not {url!r}.")
    # PostgreSQL, with the tenant scope carried into row-level security (config/db/base.py).
    database["ENGINE"] = "config.db"
    database.setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 5)
    return database


_database = _parse_database("DATABASE_URL", _DATABASE_URL)
_database["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", f"test_{_database['NAME']}")}
# Who migrates: only USER/PASSWORD/HOST/PORT of the owner's URL are used; the database name is
# always DATABASE_URL's (or the test database's).
DATABASE_OWNER = {
    key: value
    for key, value in _parse_database("DATABASE_OWNER_URL", _DATABASE_OWNER_URL).items()
    if key in ("USER", "PASSWORD", "HOST", "PORT")
}
DATABASE_APP_USER = _database.get("USER") or ""
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
    "csp",
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
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.browser_security.BrowserSecurityMiddleware",
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
                "csp.context_processors.nonce",
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

# — Signing in: lockout, two-factor, sessions, passwords (accounts/, docs/security.md) ————————
INSTALLED_APPS += [
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
]
# Axes decides on a lockout before any backend hashes the password; it must come first.
AUTHENTICATION_BACKENDS.insert(0, "axes.backends.AxesStandaloneBackend")
# OTP marks the verified user; after the messages middleware (they leave a message), Vigil
# ends idle and old sessions and keeps users who must use two-factor on the enrolment and code
# pages; axes answers locked-out sign-ins last.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE[MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1 : 0] = [
    "accounts.middleware.SessionTimeoutMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AXES_FAILURE_LIMIT = env_int("VIGIL_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("VIGIL_LOGIN_COOLOFF_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the lockout: more attempts while locked do not extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
AXES_VERBOSE = False
OTP_TOTP_ISSUER = env_str("VIGIL_TOTP_ISSUER", "Vigil")
OTP_TOTP_THROTTLE_FACTOR = 1
OTP_STATIC_THROTTLE_FACTOR = 1
VIGIL_2FA_REQUIRED_ROLES = env_list("VIGIL_2FA_REQUIRED_ROLES", "admin,compliance,staff")
VIGIL_RECOVERY_CODE_COUNT = 10
VIGIL_SESSION_IDLE_SECONDS = env_int("VIGIL_SESSION_IDLE_SECONDS", 1800)
VIGIL_SESSION_ABSOLUTE_SECONDS = env_int("VIGIL_SESSION_ABSOLUTE_SECONDS", 43_200)
# Last activity is written at most this often, not on every request.
VIGIL_SESSION_TOUCH_SECONDS = 60
SESSION_COOKIE_AGE = VIGIL_SESSION_ABSOLUTE_SECONDS
AUTH_PASSWORD_VALIDATORS[1]["OPTIONS"] = {"min_length": env_int("VIGIL_PASSWORD_MIN_LENGTH", 12)}
AUTH_PASSWORD_VALIDATORS.append({"NAME": "accounts.validators.PersonalDataValidator"})
CELERY_BEAT_SCHEDULE["clear-expired-sessions"] = {
    "task": "accounts.tasks.clear_expired_sessions_task",
    "schedule": crontab(hour=4, minute=7),
    "options": {"expires": 6 * 3600},
}

# — Faults (docs/reliability.md) ———————————————————————————————————————————————————————
# A persistent connection broken by a database restart is noticed before a request uses it,
# not by failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Health checks whose message the broker never took (it was down) or lost.
CELERY_BEAT_SCHEDULE["sweep-health-checks"] = {
    "task": "incidents.tasks.sweep_health_checks_task",
    "schedule": 60.0,
    "options": {"expires": 60},
}

# — Browser security (docs/browser-security.md) ——————————————————————————————————————————
# Content-Security-Policy (django-csp): no inline script anywhere; behaviour lives in static/js.
# Inline <style> blocks carry the request's nonce; the two constant <style> elements inside
# the reporting SVG charts (reporting/svg.py, also used by WeasyPrint) are allowed by hash
# (tests/web/test_csp.py keeps the hashes in step).
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CSP_SVG_STYLE_HASHES = [
    "'sha256-l6uLcU7pTx7dOx0020bNNd9ETkE90f70pdrm+TNVozo='",
    "'sha256-eD7EnzpkObsnHx7a2MWbNWG2rPbOBMg21jhuEi3PXiM='",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE, *CSP_SVG_STYLE_HASHES],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}
# Django's defaults, spelled out because the header test and the docs rely on them.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# config.browser_security.BrowserSecurityMiddleware: nothing of these is used.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# __Host- cookies: only sent over HTTPS, to this exact host, path / (ASVS 5.0 3.3.3).
if HTTPS:
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

# — Oversized input (docs/browser-security.md "Limits") ————————————————————————————————
# A request body Django parses (forms, the API) is refused above 1 MiB with 413; webhooks read
# their own bodies with the same or a smaller cap (integrations/ingest.py MAX_BODY_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

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

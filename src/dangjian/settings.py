"""One settings module; every knob is an environment variable ``DANGJIAN_*``.

The defaults run the embedded demo (SQLite, embedded job queue, local-memory cache). Production
(``DANGJIAN_ENV=production``) refuses to start with insecure settings; see ``core.checks``.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"DANGJIAN_{name}", default)


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value not in (None, "") else default


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


ENV = (env("ENV", "development") or "development").lower()
PRODUCTION = ENV == "production"
TESTING = env_bool("TESTING", "pytest" in sys.modules)

DATA_DIR = Path(env("DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _read_or_default(name: str, filename: str, default: str) -> str:
    """A key from the environment, else from a file the demo generated in DATA_DIR, else the default."""
    value = env(name)
    if value:
        return value
    path = DATA_DIR / filename
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    return default


INSECURE_SECRET_KEY = "dangjian-insecure-development-key-do-not-use-in-production"  # noqa: S105
INSECURE_FIELD_KEY = "dangjian-insecure-development-field-key"  # noqa: S105
SECRET_KEY = _read_or_default("SECRET_KEY", "secret_key", INSECURE_SECRET_KEY)
FIELD_KEY = _read_or_default("FIELD_KEY", "field_key", "" if PRODUCTION else INSECURE_FIELD_KEY)

# Off unless asked for: the demo is used by real people, and debug pages show settings and code.
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in (env("ALLOWED_HOSTS", "" if PRODUCTION else "*") or "").split(",") if h.strip()
]
# How many reverse proxies of ours sit in front (nginx = 1): only their X-Forwarded-For entries are trusted.
PROXY_COUNT = env_int("PROXY_COUNT", 0)
CSRF_TRUSTED_ORIGINS = [o.strip() for o in (env("CSRF_TRUSTED_ORIGINS", "") or "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "treebeard",
    "huey.contrib.djhuey",
    "dangjian.core",
    "dangjian.accounts",
    "dangjian.orgs",
    "dangjian.members",
    "dangjian.meetings",
    "dangjian.recruitment",
    "dangjian.transfers",
    "dangjian.dues",
    "dangjian.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "dangjian.web.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After MessageMiddleware: it tells the user why they were logged out.
    "dangjian.accounts.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dangjian.core.audit.RequestContextMiddleware",
]

ROOT_URLCONF = "dangjian.urls"
WSGI_APPLICATION = "dangjian.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dangjian.web.context_processors.navigation",
            ],
        },
    }
]

_default_db = f"sqlite:///{DATA_DIR / 'dangjian.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(env("DATABASE_URL", _default_db) or _default_db, conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dangjian"}}

# Background jobs: embedded SQLite queue by default, Redis when configured, immediate in tests.
if TESTING:
    HUEY = {"huey_class": "huey.MemoryHuey", "name": "dangjian-test", "immediate": True}
elif REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "dangjian",
        "url": REDIS_URL,
        "immediate": False,  # djhuey would default to DEBUG, running jobs inside the request
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "dangjian",
        "filename": str(DATA_DIR / "jobs.sqlite3"),
        "immediate": False,  # djhuey would default to DEBUG; the embedded consumer runs the jobs
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "dangjian.accounts.validators.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "dangjian.accounts.validators.ComplexityValidator"},
]
PASSWORD_HASHERS = (
    ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if TESTING
    else [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
        "django.contrib.auth.hashers.ScryptPasswordHasher",
    ]
)

# Login hardening (issue: lock after N failures for M minutes; idle session timeout).
LOGIN_MAX_FAILURES = env_int("LOGIN_MAX_FAILURES", 5)
LOGIN_LOCK_MINUTES = env_int("LOGIN_LOCK_MINUTES", 15)
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_DIR", str(DATA_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_MIMETYPES = {".webmanifest": "application/manifest+json"}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024)
IMPORT_JOB_THRESHOLD = env_int("IMPORT_JOB_THRESHOLD", 500)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 50000)
EXPORT_JOB_THRESHOLD = env_int("EXPORT_JOB_THRESHOLD", 5000)
# Exports and error files may hold personal data: deleted this many days after their job ended.
JOB_FILE_DAYS = env_int("JOB_FILE_DAYS", 7)
# Scanned documents of recruitment steps (pdf, jpg, png, docx): the largest accepted upload.
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# Meeting transcripts: text files and recordings (nginx needs client_max_body_size at least as large).
TRANSCRIPT_TEXT_MAX_BYTES = env_int("TRANSCRIPT_TEXT_MAX_BYTES", 10 * 1024 * 1024)
TRANSCRIPT_AUDIO_MAX_BYTES = env_int("TRANSCRIPT_AUDIO_MAX_BYTES", 200 * 1024 * 1024)

# Organization life (issue 5). Each is optional: unset, the feature is hidden, not broken.
# A Jitsi Meet server for video meetings (e.g. https://meet.example.org), with the JWT secret and app id
# of a secured deployment; an MQTT broker for check-in devices; a local speech-to-text model directory.
JITSI_URL = env("JITSI_URL", "") or ""
JITSI_JWT_SECRET = env("JITSI_JWT_SECRET", "") or ""
JITSI_APP_ID = env("JITSI_APP_ID", "") or ""
MQTT_URL = env("MQTT_URL", "") or ""
ASR_MODEL = env("ASR_MODEL", "") or ""

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "dangjian.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "dangjian.core.pagination.Pagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "dangjian.core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 30)
SPECTACULAR_SETTINGS = {
    "TITLE": "dangjian API",
    "DESCRIPTION": "智慧党建平台 REST API. Authenticate with `Authorization: Token <token>` "
    "from POST /api/v1/auth/token/.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Served from the installed package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status": name each enum, or the schema (and `check --deploy`) warns.
    "ENUM_NAME_OVERRIDES": {
        "MemberStatusEnum": "dangjian.members.choices.MemberStatus",
        "OrgStatusEnum": "dangjian.orgs.models.OrgStatus",
        "AlertStatusEnum": "dangjian.core.models.Alert.Status",
        "RecruitmentCaseStatusEnum": "dangjian.recruitment.models.CaseStatus",
        "TransferKindEnum": "dangjian.transfers.models.TransferKind",
        "DisciplineKindEnum": "dangjian.members.models.DisciplineKind",
        "DuesReductionKindEnum": "dangjian.dues.models.DuesReduction.Kind",
        "DuesBillStatusEnum": "dangjian.dues.models.BillStatus",
        "DuesCategoryEnum": "dangjian.members.choices.DuesCategory",
        "DuesStatementStatusEnum": "dangjian.dues.models.DuesStatement.Status",
        "MemberRegisterStatusEnum": "dangjian.members.choices.REGISTER_STATUS_CHOICES",
        "MeetingKindEnum": "dangjian.meetings.models.MeetingKind",
        "MeetingStatusEnum": "dangjian.meetings.models.MeetingStatus",
        "AttendanceStatusEnum": "dangjian.meetings.models.AttendanceStatus",
        "VoteKindEnum": "dangjian.meetings.models.VoteKind",
        "TranscriptStatusEnum": "dangjian.meetings.models.Transcript.Status",
        "TranscriptSourceEnum": "dangjian.meetings.models.Transcript.Source",
        "LifeMeetingNoteKindEnum": "dangjian.meetings.models.LifeMeetingNote.Kind",
    },
}

SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "WARNING")},
}

AUDIT_RETENTION = timedelta(days=env_int("AUDIT_RETENTION_DAYS", 3650))
PLATFORM_NAME = _("Smart Party Building Platform")

if PRODUCTION:
    # Refuse to start rather than run a production site with development secrets.
    _problems = []
    if SECRET_KEY == INSECURE_SECRET_KEY or len(SECRET_KEY) < 40:
        _problems.append("DANGJIAN_SECRET_KEY must be set to a random value of at least 40 characters")
    if DEBUG:
        _problems.append("DANGJIAN_DEBUG must be off")
    if not FIELD_KEY or FIELD_KEY == INSECURE_FIELD_KEY:
        _problems.append("DANGJIAN_FIELD_KEY must be set (the key that encrypts ID and phone numbers)")
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        _problems.append("DANGJIAN_ALLOWED_HOSTS must list the site's host names")
    if _problems:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems))

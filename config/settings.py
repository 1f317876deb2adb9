"""Thingstead settings: every value comes from the environment (see .env.example)."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import database_from_url, env_bool, env_int, env_list, env_str, key_from_base64, local_secret
from core.address import did_domain_for
from core.redis import redis_options

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DIR = Path(env_str("LOCAL_DIR", str(BASE_DIR / ".local")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = local_secret("SECRET_KEY", directory=LOCAL_DIR, debug=DEBUG, nbytes=50)
# Seals owners' and twins' private keys at rest (32 bytes, URL-safe base64). Losing it loses those keys.
KEY_ENCRYPTION_KEY = key_from_base64(
    "KEY_ENCRYPTION_KEY", local_secret("KEY_ENCRYPTION_KEY", directory=LOCAL_DIR, debug=DEBUG, nbytes=32)
)

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", ".localhost", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Public base URL used in tag QR codes, emails and twin DIDs, e.g. https://things.example.org
SITE_URL = (env_str("SITE_URL", "http://thingstead.localhost:8000" if DEBUG else "") or "").rstrip("/")
if not SITE_URL:
    raise ImproperlyConfigured("SITE_URL must be set when DEBUG is off (e.g. https://things.example.org)")
# Twin DIDs (did:webvh) are minted under this host; it must be a DNS name with at least two labels. By default
# SITE_URL's host and port, or thingstead.localhost when SITE_URL is an IP address (core.address.did_domain_for).
DID_DOMAIN = env_str("DID_DOMAIN", "") or did_domain_for(SITE_URL)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "django_tasks_db",
    "core",
    "owners",
    "twins",
    "tags",
    "ingest",
    "didcomm",
    "credentials",
    "sharing",
    "makers",
    "inventory",
    "upkeep",
    "bulk",
    "fleets",
    "imports",
    "handover",
    "firmware",
    "support",
    "moves",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.BodySizeLimitMiddleware",
    # A finder's scan of a kept page answers here, with the headers the layers below would add (tags.middleware).
    "tags.middleware.FinderScanMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.middleware.TimeZoneMiddleware",
    "core.middleware.PrivateCacheMiddleware",
    "core.middleware.LoginRateLimitMiddleware",
    # A thing that moved to another host (308 there) or is still on its way here (twins.not_live).
    "twins.not_live.NotLiveMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.DomainErrorMiddleware",
]

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
                "owners.context_processors.inbox",
                "core.nav.nav",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", "sqlite:///db.sqlite3") or "", base_dir=BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
# Seconds to wait for Redis to connect or answer before a request degrades (see core.redis.redis_options).
REDIS_TIMEOUT_SECONDS = env_int("REDIS_TIMEOUT_SECONDS", 1)
# A pooled connection idle this long is PINGed before use, so one Redis dropped is found before a command is sent.
REDIS_HEALTH_CHECK_SECONDS = env_int("REDIS_HEALTH_CHECK_SECONDS", 30)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": redis_options(timeout=REDIS_TIMEOUT_SECONDS, health_check_seconds=REDIS_HEALTH_CHECK_SECONDS),
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# `manage.py worker`: a task RUNNING this long without its worker renewing the lease was lost with a crashed worker
# and is requeued; after TASK_MAX_ATTEMPTS such deaths it is recorded as failed (core/worker.py).
TASK_LEASE_SECONDS = env_int("TASK_LEASE_SECONDS", 300)
TASK_MAX_ATTEMPTS = env_int("TASK_MAX_ATTEMPTS", 5)
# DIDComm: what one sender key, and all senders together, may send one agent; open DIDComm sockets per process.
RATE_DIDCOMM_PER_SENDER = env_str("RATE_DIDCOMM_PER_SENDER", "60/60")
RATE_DIDCOMM_PER_AGENT = env_str("RATE_DIDCOMM_PER_AGENT", "300/60")
DIDCOMM_WS_MAX_CONNECTIONS = env_int("DIDCOMM_WS_MAX_CONNECTIONS", 200)
DIDCOMM_WS_MAX_PER_CLIENT = env_int("DIDCOMM_WS_MAX_PER_CLIENT", 20)  # of them from one client address
# Bulk actions over more things than this go to the task worker (bulk.jobs); imports apply this many rows per
# transaction (imports.services).
BULK_INLINE_MAX = env_int("BULK_INLINE_MAX", 200)
IMPORTS_BATCH_ROWS = env_int("IMPORTS_BATCH_ROWS", 200)
# The largest firmware payload a maker may upload (bytes; uploads are spooled to disk, so it protects the disk).
FIRMWARE_MAX_BYTES = env_int("FIRMWARE_MAX_BYTES", 1 << 30)
# Permitted notifications (sharing.attempts): seconds before each retry after a temporary failure (comma-separated;
# about three days in all), then `failed` (the dead letter); how long a worker's claim on one item lasts.
SHARING_RETRY_SCHEDULE = env_list(
    "SHARING_RETRY_SCHEDULE", ["30", "120", "600", "1800", "3600", "10800", "21600", "43200", "86400", "86400"]
)
if not SHARING_RETRY_SCHEDULE or not all(step.isdigit() and int(step) > 0 for step in SHARING_RETRY_SCHEDULE):
    raise ImproperlyConfigured("SHARING_RETRY_SCHEDULE is a comma-separated list of positive whole seconds")
SHARING_RETRY_SCHEDULE = [int(step) for step in SHARING_RETRY_SCHEDULE]
SHARING_DELIVERY_LEASE_SECONDS = env_int("SHARING_DELIVERY_LEASE_SECONDS", 60)

# The broker the MQTT bridge (python manage.py mqtt_bridge) subscribes to: mqtt://[user:password@]host[:port], or
# mqtts:// for TLS.
MQTT_URL = env_str("MQTT_URL", "mqtt://127.0.0.1:1883")

AUTH_USER_MODEL = "owners.Owner"
# Argon2id tuned in core/hashers.py (why these parameters); the others verify older hashes, upgraded at login.
PASSWORD_HASHERS = [
    "core.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "things"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Request bodies: forms and JSON stay small; photos have their own limit, checked again after upload.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
PHOTO_MAX_BYTES = env_int("PHOTO_MAX_BYTES", 8 * 1024 * 1024)
PHOTO_MAX_PIXELS = 40_000_000
REQUEST_MAX_BYTES = PHOTO_MAX_BYTES + 256 * 1024
# Moving a thing to another instance (moves): the largest sealed package accepted (it travels in chunks of
# MOVES_PUSH_CHUNK_BYTES, each one request within REQUEST_MAX_BYTES), the instance-to-instance API's limits per
# client address, and the worker's retry pace. Opening a package holds it in memory several times over: an
# instance with little RAM sets MOVES_MAX_PACKAGE_BYTES lower.
MOVES_MAX_PACKAGE_BYTES = env_int("MOVES_MAX_PACKAGE_BYTES", 256 * 1024 * 1024)
MOVES_PUSH_CHUNK_BYTES = env_int("MOVES_PUSH_CHUNK_BYTES", min(8 * 1024 * 1024, REQUEST_MAX_BYTES - 64 * 1024))
if MOVES_PUSH_CHUNK_BYTES > REQUEST_MAX_BYTES - 64 * 1024:
    raise ImproperlyConfigured("MOVES_PUSH_CHUNK_BYTES must leave room within REQUEST_MAX_BYTES")
# What an opened package may grow to, and how many JSON values it may hold (a small sealed package must not inflate
# into gigabytes of Python objects: moves.services checks both before parsing). Photos and documents travel as
# base64 inside the JSON: about 1.34 times their size.
MOVES_MAX_PLAINTEXT_BYTES = env_int("MOVES_MAX_PLAINTEXT_BYTES", 512 * 1024 * 1024)
MOVES_MAX_PACKAGE_VALUES = env_int("MOVES_MAX_PACKAGE_VALUES", 8_000_000)
if MOVES_MAX_PLAINTEXT_BYTES < MOVES_MAX_PACKAGE_BYTES:
    raise ImproperlyConfigured("MOVES_MAX_PLAINTEXT_BYTES must be at least MOVES_MAX_PACKAGE_BYTES")
RATE_MOVES_REQUESTS_PER_CLIENT = env_str("RATE_MOVES_REQUESTS_PER_CLIENT", "30/3600")
RATE_MOVES_CALLS_PER_CLIENT = env_str("RATE_MOVES_CALLS_PER_CLIENT", "240/60")
# One account on this host as a destination: how many moves it may have open, and how often it may ask.
MOVES_OPEN_PER_ACCOUNT = env_int("MOVES_OPEN_PER_ACCOUNT", 5)
RATE_MOVES_ASKS_PER_ACCOUNT = env_str("RATE_MOVES_ASKS_PER_ACCOUNT", "10/3600")
MOVES_RESUME_EVERY_SECONDS = env_int("MOVES_RESUME_EVERY_SECONDS", 60)
MOVES_BACKOFF_SECONDS = env_int("MOVES_BACKOFF_SECONDS", 30)

# Rate limits: "count/seconds".
RATE_SCAN_PER_CLIENT = env_str("RATE_SCAN_PER_CLIENT", "60/60")
RATE_MESSAGE_PER_CLIENT = env_str("RATE_MESSAGE_PER_CLIENT", "5/600")
RATE_MESSAGE_PER_TAG = env_str("RATE_MESSAGE_PER_TAG", "20/3600")
RATE_LOGIN_PER_CLIENT = env_str("RATE_LOGIN_PER_CLIENT", "20/300")
# Failed logins per account name, from any address (the site's login and the admin's).
RATE_LOGIN_FAILURES_PER_ACCOUNT = env_str("RATE_LOGIN_FAILURES_PER_ACCOUNT", "10/900")
RATE_SIGNUP_PER_CLIENT = env_str("RATE_SIGNUP_PER_CLIENT", "5/3600")
RATE_PASSWORD_RESET_PER_CLIENT = env_str("RATE_PASSWORD_RESET_PER_CLIENT", "5/3600")
# Reset emails to one address, whoever asks: a stranger cannot flood someone's inbox.
RATE_PASSWORD_RESET_PER_EMAIL = env_str("RATE_PASSWORD_RESET_PER_EMAIL", "3/3600")
# API requests per account (session or token), and per address for anonymous ones (the schema).
RATE_API_PER_USER = env_str("RATE_API_PER_USER", "600/60")
RATE_API_PER_CLIENT = env_str("RATE_API_PER_CLIENT", "30/60")
# Wrong claim codes (makers.claims): per buyer and per thing; per client address, over any accounts (looser: an office
# or a carrier's NAT shares one address).
RATE_CLAIM_FAILURES = env_str("RATE_CLAIM_FAILURES", "5/900")
RATE_CLAIM_FAILURES_PER_CLIENT = env_str("RATE_CLAIM_FAILURES_PER_CLIENT", "20/900")
# Tag codes an account's imports may look up that are not on its own things (pre-printed stickers to attach): bounds
# guessing of the 40-bit codes as RATE_SCAN_PER_CLIENT does for typed codes. A roll of 1,000 stickers an hour.
RATE_IMPORT_TAG_CODES_PER_ACCOUNT = env_str("RATE_IMPORT_TAG_CODES_PER_ACCOUNT", "1000/3600")
# A finder reloading a tag page again and again makes one "your thing was scanned" notification per window.
SCAN_NOTIFY_COALESCE_SECONDS = env_int("SCAN_NOTIFY_COALESCE_SECONDS", 1800)
SHARING_BATCH_SECONDS = env_int("SHARING_BATCH_SECONDS", 5)  # a grant's events within this window: one message
# Transfer offers, confirmations and private key downloads need a login at most this old.
RECENT_AUTH_SECONDS = env_int("RECENT_AUTH_SECONDS", 300)
# Number of reverse proxies in front of the app whose X-Forwarded-For we trust (0: use the socket address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

EMAIL_BACKEND_NAME = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
_SMTP_OPTIONS = {
    "host": env_str("EMAIL_HOST", "localhost"),
    "port": env_int("EMAIL_PORT", 25),
    "username": env_str("EMAIL_HOST_USER", ""),
    "password": env_str("EMAIL_HOST_PASSWORD", ""),
    "use_tls": env_bool("EMAIL_USE_TLS", False),
    "timeout": env_int("EMAIL_TIMEOUT", 20),
}
MAILERS = {
    "default": {
        "BACKEND": EMAIL_BACKEND_NAME,
        "OPTIONS": _SMTP_OPTIONS if EMAIL_BACKEND_NAME.endswith("smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Thingstead <noreply@thingstead.localhost>")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only: form encodings would read an empty field as "not sent" (DRF's HTML-form rule) where JSON says "".
    # The photo upload names its own multipart parser. StrictJSONParser: JSON that refuses text no string can hold.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.StrictJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.ratelimit.ApiThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Thingstead API",
    "DESCRIPTION": (
        "What the pages do, for the signed-in owner (session or token auth): things (digital twins), readings, "
        "journal, tags, transfers, DIDComm connections and ingestion sources, and more; and the signed ingestion "
        "hook POST /hooks/<source-id> (Standard Webhooks)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Operations are tagged by the path's first part after /api/ (things, orgs, groups…) unless they name their own
    # tag: the reference has a page per tag (core.api_docs).
    "SCHEMA_PATH_PREFIX": r"/api/",
    # Several models have a `kind`: name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrganisationKindEnum": "makers.models.Organisation.Kind",
        "ConnectionRoleEnum": "didcomm.models.Connection.Role",
        "ConnectionStateEnum": "didcomm.models.Connection.State",
        "TransferOfferStatusEnum": "twins.models.TransferOffer.Status",
        "MembershipRoleEnum": "makers.models.Membership.Role",
        "AttachmentKindEnum": "upkeep.models.Attachment.Kind",
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
# No script but our own files (no inline script or event handler anywhere: tests/security/test_csp_and_caching.py).
# Styles allow inline `style=` attributes: they cannot run code, and the pages use a few for layout.
# 'self' in connect-src covers the same-origin WebSocket of live pages.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    # __Host- cookies must be Secure, path=/ and carry no Domain: the browser enforces that they
    # cannot be set by a sibling subdomain.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if TRUSTED_PROXY_COUNT:
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Test-only endpoint that returns a constant page; the scan benchmark compares against it.
BENCH_ENDPOINTS = env_bool("BENCH_ENDPOINTS", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Tag tokens, transfer offers, typed codes and reset links in URLs are bearer secrets: core.logging.
    "filters": {"redact_secrets": {"()": "core.logging.RedactSecretsFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

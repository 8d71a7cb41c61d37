"""Settings, read only from environment variables (and an optional `.env` file beside manage.py).

Every variable carries Django's own name where Django has one. The defaults are safe for one
machine with no services: SQLite, django-q2's ORM broker, emails written to files under `var/`.
The README lists every variable; `.env.example` is a commented template.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from core.site import site_url_from_bind

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the process environment win over the file. Read it before any variable.
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env", overwrite=False)

# Everything the site writes: the SQLite database, collected static files, the email outbox.
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but a clear yes/no is a start-up error naming the variable."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        # Only for a developer's own machine: sessions and signed links die with every restart
        # of a different key, so the run script writes a real key to .env on first run.
        SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random value (for example the output of "
            "`python -c \"import secrets; print(secrets.token_urlsafe(50))\"`), "
            "or set DEBUG=true on a development machine."
        )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_q",
    "anymail",
    "crispy_forms",
    "crispy_bootstrap5",
    "formtools",
    "core",
    "business",
    "invoices",
    "documents",
    "banking",
    "automations",
    "tasks",
    "workflows",
    "webhooks",
    "notifications",
    "accounts",
    "dashboard",
    "demo",
    # The REST API (django-ninja: its docs page's templates and Swagger UI files come from the package).
    "api",
    "ninja",
    # Login throttling: failed logins are counted per user name and address (see Auth below).
    "axes",
    # The Content-Security-Policy header (see Security below); the app only adds its system checks.
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (see Security below).
    "csp.middleware.CSPMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in person's chosen language wins over the browser's.
    "accounts.middleware.UserLanguageMiddleware",
    # Every page needs a login except those marked @login_not_required and the ESP webhooks.
    "config.middleware.LoginRequiredMiddleware",
    # The REST API's POSTs with an Idempotency-Key: run once, the first answer replayed (api.idempotency).
    "api.idempotency.IdempotencyMiddleware",
    # The API's 405 as JSON (ninja's is plain text); inside the idempotency one, so a replay is JSON too.
    "api.errors.MethodNotAllowedMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.business",
                "notifications.context_processors.bell",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------------------------
# An empty DATABASE_URL means the default, as for every other variable.
DATABASES = {
    "default": env.db_url_config(os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE transactions take the write
    # lock up front, so two writers queue on the busy timeout instead of failing with
    # "database is locked" when a read transaction tries to upgrade.
    _db["OPTIONS"] = {
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 20),
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        **_db.get("OPTIONS", {}),
    }
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 0)
    # SQLite creates the file but not its folder: without this, `migrate` on a fresh clone fails
    # with "unable to open database file".
    if _db.get("NAME") and not str(_db["NAME"]).startswith((":memory:", "file:")):
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
else:
    # django-q2's ORM broker opens a connection per operation without persistent connections
    # (23 instead of 154 tasks/s on PostgreSQL here); health checks drop dead ones after a
    # server restart.
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
    _db["CONN_HEALTH_CHECKS"] = True
    _db.setdefault("TEST", {})["NAME"] = os.environ.get("TEST_DATABASE_NAME") or None

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
# Login throttling (django-axes, on the login page and the admin's): after LOGIN_FAILURE_LIMIT wrong
# passwords for one user name from one address, that pair is locked out for LOGIN_LOCKOUT_MINUTES
# (a page says so, with status 429). Other people and other addresses are not affected, so nobody can
# lock the owner out from elsewhere. A correct login resets the count.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind a proxy every login arrives from the proxy's address: the throttle counts the client's
# address from X-Forwarded-For instead, as the last TRUSTED_PROXY_COUNT proxies wrote it (so
# one client cannot lock a user name out for everybody, nor pick an address by sending the header).
BEHIND_HTTPS_PROXY = env_bool("BEHIND_HTTPS_PROXY", False)
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 1 if BEHIND_HTTPS_PROXY else 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, not {TRUSTED_PROXY_COUNT}.")
AXES_CLIENT_IP_CALLABLE = "accounts.client_address.client_address"

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("de", _("German"))]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of en, de, not {LANGUAGE_CODE!r}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
# The business time zone: "overdue" and "today" are decided in it.
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Berlin")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except (zoneinfo.ZoneInfoNotFoundError, ValueError):
    raise ImproperlyConfigured(f"TIME_ZONE {TIME_ZONE!r} is not a known time zone.") from None

# --- Business ------------------------------------------------------------------------------
BUSINESS_NAME = env.str("BUSINESS_NAME", default="My Business")
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR").upper()
DEFAULT_PAYMENT_TERMS_DAYS = env_int("DEFAULT_PAYMENT_TERMS_DAYS", 14)


# Links in emails point here. Unset, it is where ./run serves: HOST and PORT (127.0.0.1:8000), so a
# site on another port never sends dead links; `manage.py runall` says at start-up which it is.
SITE_URL_IS_SET = bool(os.environ.get("SITE_URL", "").strip())
SITE_URL = (env.str("SITE_URL") if SITE_URL_IS_SET else site_url_from_bind(
    os.environ.get("HOST", ""), os.environ.get("PORT", ""), ALLOWED_HOSTS)).rstrip("/")
# How long a public invoice link in an email stays valid.
PUBLIC_LINK_MAX_AGE_DAYS = env_int("PUBLIC_LINK_MAX_AGE_DAYS", 180)

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Front-end packages come from npm (package.json, installed by `npm ci`, which ./run does) and are
# served by the app itself: {% static "vendor/bootstrap/css/bootstrap.min.css" %},
# "vendor/bootstrap/js/bootstrap.bundle.min.js", "vendor/bootstrap-icons/bootstrap-icons.min.css",
# "vendor/htmx/htmx.min.js", "vendor/sortablejs/Sortable.min.js". A package that is not installed
# is left out, so the app still starts without npm (unstyled).
STATICFILES_DIRS = [BASE_DIR / "static"] + [
    (name, BASE_DIR / "node_modules" / path)
    for name, path in [
        ("vendor/bootstrap", "bootstrap/dist"),
        ("vendor/bootstrap-icons", "bootstrap-icons/font"),
        ("vendor/htmx", "htmx.org/dist"),
        ("vendor/sortablejs", "sortablejs"),
        ("vendor/chartjs", "chart.js/dist"),
    ]
    if (BASE_DIR / "node_modules" / path).is_dir()
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Email ----------------------------------------------------------------------------------
# Default: every email is written as a file under var/mail, readable without a mail server.
# Plain SMTP: EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST, ….
# An ESP: EMAIL_BACKEND=anymail.backends.postmark.EmailBackend and ANYMAIL_POSTMARK_SERVER_TOKEN.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="invoices@localhost")

# --- Outgoing webhooks and failure alerts (webhooks, notifications) ----------------------------
# Webhooks to private, loopback or link-local addresses (a receiver on this machine or network) are
# refused unless this is on: otherwise a subscription could reach internal services (SSRF).
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", False)
# Each request may take this long (connect and answer); the receiver should answer at once.
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 5)
# A subscription is switched off (and the owners told) after this many failed attempts in a row.
WEBHOOKS_DISABLE_AFTER = env_int("WEBHOOKS_DISABLE_AFTER", 20)
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Every ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"] (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN).
ANYMAIL = {key[len("ANYMAIL_"):]: value for key, value in os.environ.items() if key.startswith("ANYMAIL_")}

# --- Task queue (django-q2) -----------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="invoices"),
    "workers": env_int("Q_WORKERS", 2),
    # A task may run this long before its worker is killed; `retry` must be longer, because a
    # task still running after `retry` seconds is handed out a second time (it is a lease).
    "timeout": env_int("Q_TIMEOUT", 300),
    "retry": env_int("Q_RETRY", 360),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 5),
    # A missed schedule slot runs once, not once per slot missed while the cluster was down.
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 1000),
    # A worker process is replaced after this many tasks (django-q2's default).
    "recycle": env_int("Q_RECYCLE", 500),
    "ack_failures": True,
    "label": _("Task queue"),
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        f"Q_RETRY ({Q_CLUSTER['retry']}) must be longer than Q_TIMEOUT ({Q_CLUSTER['timeout']}): "
        "a task still running after Q_RETRY seconds is handed out a second time."
    )
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 0.5
    # django-q2 saves each cluster's status (its heartbeat, the length of its own queue) every half
    # second in a cache; with Redis in Redis. Files here, so that other processes of the host see
    # it (`manage.py health`, `qcluster_supervised`), not each process's own memory.
    Q_CLUSTER["cache"] = "django_q"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "django_q": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                 "LOCATION": str(VAR_DIR / "cache" / "django_q")},
    # The API's rate limit counters, shared by all web processes: Redis when there is one (atomic
    # counts), else files on this host.
    "api": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
            "KEY_PREFIX": "api"} if REDIS_URL else
           {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache" / "api")},
}
# `manage.py qcluster_supervised` (what runall runs) restarts its cluster when tasks have waited
# this long and none of its workers started one: a worker killed from outside can leave the
# cluster's shared queue locked for good (automations/watchdog.py).
Q_STUCK_SECONDS = env_int("Q_STUCK_SECONDS", 120)
if Q_STUCK_SECONDS < 10:
    raise ImproperlyConfigured(f"Q_STUCK_SECONDS must be at least 10, not {Q_STUCK_SECONDS}.")
# An event still waiting for dispatch after this long: the dashboard warns owners, and
# `manage.py health` fails.
EVENT_WAIT_WARNING_MINUTES = env_int("EVENT_WAIT_WARNING_MINUTES", 5)
if EVENT_WAIT_WARNING_MINUTES < 1:
    raise ImproperlyConfigured(f"EVENT_WAIT_WARNING_MINUTES must be at least 1, not {EVENT_WAIT_WARNING_MINUTES}.")

# --- REST API (api/) ------------------------------------------------------------------------
# Requests one token may make per window of API_RATE_LIMIT_WINDOW seconds (0: no limit); past it
# the API answers 429 with Retry-After.
API_RATE_LIMIT = env_int("API_RATE_LIMIT", 600)
API_RATE_LIMIT_WINDOW = env_int("API_RATE_LIMIT_WINDOW", 60)
if API_RATE_LIMIT < 0 or API_RATE_LIMIT_WINDOW < 1:
    raise ImproperlyConfigured("API_RATE_LIMIT must be 0 or more and API_RATE_LIMIT_WINDOW at least 1.")
API_CACHE = "api"
# How long the answer to a POST with an Idempotency-Key is kept and replayed.
API_IDEMPOTENCY_HOURS = env_int("API_IDEMPOTENCY_HOURS", 24)

# --- Forms ----------------------------------------------------------------------------------
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Security (production) ------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_HTTPS_PROXY else None
# HTTPS=true (with DEBUG off) turns on everything `manage.py check --deploy` asks for: secure cookies,
# the redirect to HTTPS and a year of HSTS; each can still be set on its own.
HTTPS = env_bool("HTTPS", False) and not DEBUG
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# Content-Security-Policy (django-csp): the browser runs only script files of this site (no inline
# script, no on…= handler, no eval), applies only its style sheets (no <style>, no style=""),
# loads everything else from here too (images also as data: URLs, which Bootstrap's CSS uses),
# no plugins, forms post only here, and no other site may frame a page. The pages keep to it:
# tests/config/test_security_headers.py scans the templates, and the browser tests fail on any
# violation the browser reports.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Permissions-Policy (config.middleware): none of these browser features is used by any page.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture",
        "encrypted-media", "geolocation", "gyroscope", "hid", "idle-detection", "magnetometer",
        "microphone", "midi", "payment", "publickey-credentials-get", "screen-wake-lock", "serial",
        "usb", "xr-spatial-tracking",
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint (the invoice PDF) logs every rendering step at INFO.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "weasyprint": {"level": "WARNING"}},
}

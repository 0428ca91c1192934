"""One settings module, read from the environment; secure unless told otherwise.

Every installation keeps its data in one folder, ``$WAYSTATION_HOME``. ``DATABASE_URL`` selects PostgreSQL
instead of the SQLite file in that folder. Plain HTTP (no secure cookies, no HSTS) is allowed only when
``WAYSTATION_DEV_HTTP=1`` is set, which the demo and the tests do.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

PACKAGE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from exc


def waystation_home() -> Path:
    raw = os.environ.get("WAYSTATION_HOME")
    if raw:
        return Path(raw).expanduser().resolve()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "waystation"


def secret_key(home: Path) -> str:
    """The signing key for sessions and CSRF: from the environment, or a random one kept in the data folder."""
    from_env = os.environ.get("WAYSTATION_SECRET_KEY")
    if from_env:
        if len(from_env) < 50:
            raise ImproperlyConfigured("WAYSTATION_SECRET_KEY must be at least 50 characters")
        return from_env
    path = home / "secret_key"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(64))
    return path.read_text().strip()


HOME = waystation_home()
SECRET_KEY = secret_key(HOME)
DEBUG = env_bool("WAYSTATION_DEBUG")
DEV_HTTP = env_bool("WAYSTATION_DEV_HTTP")
if DEBUG and not DEV_HTTP:
    # DEBUG pages show settings, SQL and local variables (a case's decrypted fields among them) to whoever causes
    # an error: never in production.
    raise ImproperlyConfigured(
        "WAYSTATION_DEBUG=1 is refused in production. Debug mode is for a development machine only: there, set "
        "WAYSTATION_DEV_HTTP=1 as well; in production, unset WAYSTATION_DEBUG."
    )
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("WAYSTATION_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "waystation.accounts",
    "waystation.audit",
    "waystation.network",
    "waystation.cases",
    "waystation.vault",
    "waystation.figures",
    "waystation.intake",
    "waystation.linkage",
    "waystation.sync",
    "waystation.sync.changes",
    "waystation.api",
    "waystation.ops",
    "waystation.web",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",  # passkeys, a django-otp device type (accounts/passkeys.py)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "waystation.web.middleware.IdleSessionMiddleware",  # an unchanged session saved once a renewal step at most
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the second factor passed in this session
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "waystation.web.middleware.SecurityHeadersMiddleware",
    "waystation.web.middleware.SessionLifetimeMiddleware",
    "waystation.web.middleware.VaultKeysMiddleware",
    "waystation.web.middleware.MergedRecordMiddleware",
    "waystation.web.middleware.LoginRequiredMiddleware",
    "waystation.web.middleware.RejectNulBytesMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as Axes asks: it turns a lockout into our (generic) sign-in answer
]

# Axes first: a locked account is refused before its password is even checked.
# The duress backend before Django's: every sign-in checks the duress hash and the real one (accounts/duress.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "waystation.accounts.duress.DuressBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "waystation.urls"
WSGI_APPLICATION = "waystation.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "accounts:login"  # without it, LogoutView renders a template we do not have

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "waystation.web.context.site",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(HOME / "waystation.sqlite3"),
            # Writers take the lock at BEGIN (IMMEDIATE) and wait for it up to 20 s (SQLite's default is 5 s): a large
            # import or restore holds it for a while, and a keeper's save should wait, not fail. Imports of tens of
            # thousands of rows belong on PostgreSQL (docs/operations-notes.md).
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id, taking turns with the vault's key derivations: see lib/memory_hard.py.
PASSWORD_HASHERS = ["waystation.accounts.hashers.TurnTakingArgon2PasswordHasher"]
# Memory-hard derivations (100 and 64 MiB each) running at once in the server process: 1 keeps one worker under
# 300 MB resident during a burst of sign-ins (bench/load.py); each sign-in then waits its turn (a few tenths of a
# second each).
WAYSTATION_ARGON2_AT_ONCE = max(1, int(os.environ.get("WAYSTATION_ARGON2_AT_ONCE", "1")))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ko", "한국어"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = HOME / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it; `collectstatic` fills it in production
WHITENOISE_USE_FINDERS = True  # serve straight from the package; `collectstatic` is optional
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},  # no uploads ever reach the disk in clear
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Uploads (photos) stay in memory: a temporary file would put a sensitive photo on disk in clear.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 3 * 1024 * 1024

# Sessions are short and idle-limited: a laptop left open signs itself out.
SESSION_COOKIE_AGE = env_int("WAYSTATION_SESSION_MINUTES", 30) * 60
# ... and end at the latest this long after signing in, however active (web.middleware.SessionLifetimeMiddleware).
SESSION_ABSOLUTE_SECONDS = env_int("WAYSTATION_SESSION_MAX_HOURS", 12) * 3600
# The largest change bundle a station or the hub accepts (file or network): refused before it is read further.
SYNC_MAX_BUNDLE_BYTES = env_int("WAYSTATION_SYNC_MAX_BUNDLE_MB", 64) * 2**20
# Exports, shredding, key and role changes need the password and a second-factor code given at most this long ago
# (accounts.reauth.require_recent_auth).
REAUTH_MINUTES = env_int("WAYSTATION_REAUTH_MINUTES", 5)
# Requests a minute that one API token may make (/api/v1/); beyond it the API answers 429.
API_REQUESTS_PER_MINUTE = env_int("WAYSTATION_API_REQUESTS_PER_MINUTE", 120)
# The hub's /sync/push/ and /sync/pull/, per address: a station's `sync now` makes two requests.
SYNC_REQUESTS_PER_MINUTE = env_int("WAYSTATION_SYNC_REQUESTS_PER_MINUTE", 30)
# The idle timeout is renewed by the first request after a renewal step (a minute; accounts.sessions), not by every
# request: an unchanged session is not written again within the step (web.middleware.IdleSessionMiddleware).
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
LANGUAGE_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SECURE = not DEV_HTTP
CSRF_COOKIE_SECURE = not DEV_HTTP
LANGUAGE_COOKIE_SECURE = not DEV_HTTP
SECURE_SSL_REDIRECT = not DEV_HTTP and env_bool("WAYSTATION_SSL_REDIRECT", True)
BEHIND_PROXY = env_bool("WAYSTATION_BEHIND_PROXY")  # exactly one reverse proxy in front (docs/operations-notes.md)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None
SECURE_HSTS_SECONDS = 0 if DEV_HTTP else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEV_HTTP
# HSTS preload is off unless WAYSTATION_HSTS_PRELOAD=1. The preload list is public and near-permanent: being on it
# publishes that this domain runs an HTTPS-only service, and a network that hides people may not want its domain in
# any public list. Browsers still get HSTS for a year from the first visit. So the deploy check's W021 ("preload not
# set") is silenced when, and only when, preload is deliberately off.
SECURE_HSTS_PRELOAD = not DEV_HTTP and env_bool("WAYSTATION_HSTS_PRELOAD")
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD or DEV_HTTP else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
# same-origin: no referrer ever leaves for another site; "no-referrer" would make browsers send "Origin: null"
# with our own form posts, which Django's CSRF check refuses.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Lockout (django-axes): an account is locked for one address after N failed sign-ins (a wrong password or a wrong
# second-factor code), for M minutes; an administrator can unlock it from the Users page. See accounts/lockout.py.
AXES_FAILURE_LIMIT = env_int("WAYSTATION_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("WAYSTATION_LOCKOUT_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "waystation.accounts.lockout.client_ip"  # the proxy's view of the client, not a spoofable one
AXES_USERNAME_CALLABLE = "waystation.accounts.lockout.axes_username"  # a keyed hash, never the typed text
AXES_LOCKOUT_CALLABLE = "waystation.accounts.lockout.lockout_response"  # the same page as a wrong password
AXES_RESET_ON_SUCCESS = False  # reset only after the second factor too (accounts/views.py), not after a password
AXES_DISABLE_ACCESS_LOG = True  # sign-ins are in the audit trail; no second log of workers' addresses
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token", "token"]

# Second factor (django-otp): TOTP and backup codes, for every role (accounts/second_factor.py).
OTP_TOTP_ISSUER = "Waystation"
OTP_TOTP_THROTTLE_FACTOR = 1  # seconds, doubled at each failure in a row
OTP_STATIC_THROTTLE_FACTOR = 1

# Passkeys (WebAuthn, django-otp-webauthn) beside TOTP, as a second factor only (accounts/passkeys.py). A passkey is
# bound to the relying party id, a domain name and never an IP address: WAYSTATION_PASSKEY_RP_ID, by default the
# first allowed host that is a name ("localhost" in the demo and the tests). The server accepts a passkey's answer
# only from the origins in WAYSTATION_PASSKEY_ORIGINS (comma-separated, such as https://waystation.example.org), by
# default https://<relying party id>; with WAYSTATION_DEV_HTTP=1 also from http://localhost on any port.
OTP_WEBAUTHN_RP_ID = os.environ.get("WAYSTATION_PASSKEY_RP_ID") or next(
    (host for host in ALLOWED_HOSTS if host[:1] not in ".*[" and not host.replace(".", "").isdigit()), "localhost"
)
OTP_WEBAUTHN_RP_NAME = "Waystation"
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    origin.strip().rstrip("/")
    for origin in os.environ.get("WAYSTATION_PASSKEY_ORIGINS", f"https://{OTP_WEBAUTHN_RP_ID}").split(",")
    if origin.strip()
]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False  # the password opens the user's keys (vault): never skipped
OTP_WEBAUTHN_HELPER_CLASS = "waystation.accounts.passkeys.PasskeyHelper"

# Differential privacy (figures/privacy.py): the total privacy loss (epsilon) that all noisy releases of one calendar
# month (UTC) may spend together, and of one calendar year; each `waystation figures dp` release spends a part (0.1
# by default) and is refused once either total would go past its limit. Losses add up from month to month: the
# yearly cap is what bounds a year. What epsilon means, in plain words: docs/figures-methodology.md. The values are
# checked (numbers above 0) when a release asks for them.
WAYSTATION_DP_BUDGET = {
    "epsilon_per_period": os.environ.get("WAYSTATION_DP_EPSILON_PER_MONTH", "1.0"),
    "epsilon_per_year": os.environ.get("WAYSTATION_DP_EPSILON_PER_YEAR", "6.0"),
}

# Where the quick-exit control sends the browser: an ordinary, neutral page.
QUICK_EXIT_URL = os.environ.get("WAYSTATION_QUICK_EXIT_URL", "https://www.weather.com/")

# Logs never carry personal content: requests are logged by path only, and no case data is ever logged.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_case_codes": {"()": "waystation.lib.redact.RedactCaseCodes"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_case_codes"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # Axes warns at every failed sign-in; those are audit events already (accounts/signals.py).
    # Django logs a failed template lookup at DEBUG with the whole context object; a page's context holds revealed
    # values, so that logger never goes below INFO, whatever the root level.
    "loggers": {"axes": {"level": "ERROR"}, "django.template": {"level": "INFO"}},
}

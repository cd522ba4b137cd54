"""Settings of the Confab Django example: a plain WSGI Django project.

No Channels, no ASGI server, no channel layer: the WebSockets are Confab's.
Django keeps its business logic (who may join, what is stored) and talks to
Confab through three things configured here:

  CONFAB_TOKEN_SECRET    signs the users' JWTs (confab-server --token-secret)
  CONFAB_BACKEND_SECRET  verifies Confab's hooks and webhooks (--backend-secret)
  CONFAB_API_KEY         authorises publishing through the server API (--api-key)
"""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "confab-example-not-a-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "teamchat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "confab_site.urls"
WSGI_APPLICATION = "confab_site.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Confab (see examples/django/README.md and docs/BACKEND.md).
CONFAB_URL = os.environ.get("CONFAB_URL", "http://127.0.0.1:8000")  # server API
CONFAB_WS_URL = os.environ.get(  # what browsers connect to
    "CONFAB_WS_URL", CONFAB_URL.replace("http", "ws", 1) + "/ws"
)
CONFAB_TOKEN_SECRET = os.environ.get("CONFAB_TOKEN_SECRET", "")
CONFAB_BACKEND_SECRET = os.environ.get("CONFAB_BACKEND_SECRET", "")
CONFAB_API_KEY = os.environ.get("CONFAB_API_KEY", "")
CONFAB_TOKEN_TTL = int(os.environ.get("CONFAB_TOKEN_TTL", "3600"))  # seconds
CONFAB_SIGNATURE_WINDOW = 300  # seconds: an older (replayed) request is refused

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}

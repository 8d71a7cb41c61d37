"""Settings for the test suite: the real settings, with the queue run inline and fast hashing.

The database still comes from DATABASE_URL, so the same suite runs on SQLite and PostgreSQL.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 20)
os.environ.setdefault("DEBUG", "false")

from .settings import *  # noqa: E402,F403
from .settings import CACHES, Q_CLUSTER, STORAGES  # noqa: E402

# django-q2 reads Q_CLUSTER once at import: run every async_task inline in tests.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# django-q2's cluster status (a file cache in production): the tests' own memory.
CACHES = {**CACHES, "django_q": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "django_q"},
          "api": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api"}}

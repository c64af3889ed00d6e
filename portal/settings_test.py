"""Test settings: the production code paths, with eager Celery and the in-memory channel layer
unless a test opts into the real worker/Redis (see tests marked `integration`)."""

import os

os.environ.setdefault("SECRET_KEY", "baton-test-secret-key")

from portal.settings import *  # noqa: F403
from portal.settings import REDIS_URL

CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
BATON_EMBEDDED_TIMER = False
BATON_INGEST_GROUP_COMMIT = False  # the test transaction belongs to the test's thread
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

"""Django can be configured once per process: every Django test configures it through here.

The base settings are a plain project (auth, contenttypes, sessions on a SQLite file, migrated);
tests change ROOT_URLCONF / MIDDLEWARE / GENOPS_USER_ID with `override_settings`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

_DB_DIR = Path(tempfile.mkdtemp(prefix="genops-django-"))


def configure_django() -> None:
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="genops-tests",
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_DB_DIR / "db.sqlite3")}},
        MIDDLEWARE=[],
        ROOT_URLCONF=None,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


AUTH_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "genops.web.django.GenOpsMiddleware",
]

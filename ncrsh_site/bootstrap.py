"""First-run set-up for ``ncrsh serve``: database schema, static files and the admin user."""

from __future__ import annotations

import os
import secrets
from typing import TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import transaction

from ncrsh_site.config import ConfigError


def migrate(out: TextIO) -> None:
    out.write("Applying database migrations…\n")
    call_command("migrate", interactive=False, verbosity=0)
    if settings.PRODUCTION:
        call_command("collectstatic", interactive=False, verbosity=0)


@transaction.atomic
def ensure_admin(out: TextIO) -> None:
    """Create the admin user when missing; an existing one is never touched.

    Without NCRSH_ADMIN_PASSWORD a password is generated and printed this once only.
    """
    username = os.environ.get("NCRSH_ADMIN_USERNAME") or "admin"
    users = get_user_model().objects
    if users.filter(username=username).exists():
        return
    password = os.environ.get("NCRSH_ADMIN_PASSWORD")
    generated = not password
    if not password:
        password = secrets.token_urlsafe(12)
    elif settings.PRODUCTION:
        try:
            validate_password(password, users.model(username=username))
        except ValidationError as exc:
            raise ConfigError(f"NCRSH_ADMIN_PASSWORD: {' '.join(exc.messages)}") from None
    users.create_superuser(username=username, password=password, email="")
    if generated:
        out.write(
            f"Created admin user {username!r} with the generated password: {password}\n"
            "  (shown once; set NCRSH_ADMIN_PASSWORD before the first start to choose it)\n"
        )
    else:
        out.write(f"Created admin user {username!r} (password from NCRSH_ADMIN_PASSWORD).\n")

"""Production settings pass Django's deployment checks (scripts/test runs the same command), the
checks do fail when HTTPS hardening is missing, and the hardening reaches real responses: HSTS,
secure cookies, the CSP with a per-request nonce, no framing, no sniffing."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


def production_env(**overrides: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        # The checks never connect: nothing needs to listen on these.
        "DATABASE_URL": "postgres://baton:secret@127.0.0.1:1/baton",
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "false",
        "BATON_HTTPS": "true",
        "ALLOWED_HOSTS": "baton.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://baton.example.com",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy() -> None:
    result = check_deploy(production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_https_hardening() -> None:
    result = check_deploy(production_env(BATON_HTTPS=""))

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_check_deploy_fails_with_a_weak_secret_key() -> None:
    result = check_deploy(production_env(SECRET_KEY="short"))

    assert result.returncode != 0
    assert "security.W009" in result.stderr


@pytest.fixture
def https_settings(settings):  # type: ignore[no-untyped-def]
    """What BATON_HTTPS=true sets (portal/settings.py)."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return settings


def test_https_responses_carry_hsts_and_plain_http_is_redirected(db, https_settings) -> None:
    client = Client()

    plain = client.get("/accounts/login/")
    secure = client.get("/accounts/login/", headers={"x-forwarded-proto": "https"})

    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_session_and_csrf_cookies_are_secure_and_http_only(org, https_settings) -> None:
    client = Client()
    https = {"x-forwarded-proto": "https"}
    page = client.get("/accounts/login/", headers=https)
    token = page.cookies[settings.CSRF_COOKIE_NAME].value

    response = client.post(
        "/accounts/login/",
        {"username": "riley", "password": "test-pass-123", "csrfmiddlewaretoken": token},
        headers=https,
    )

    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"]
    assert page.cookies[settings.CSRF_COOKIE_NAME]["secure"]


def test_pages_carry_a_nonce_csp_and_refuse_framing(org) -> None:
    client = Client()
    client.force_login(org.users["riley"])

    response = client.get("/inbox/")

    csp = response["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None
    assert f'nonce="{nonce[1]}"' in response.content.decode()
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    # A fresh nonce on every response.
    assert nonce[1] not in client.get("/inbox/")["Content-Security-Policy"]

"""`manage.py check --deploy` with production settings (HTTPS=true) has nothing to say, and CSRF
protection covers every page but the ESP webhooks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.urls import get_resolver

from tests.accounts.test_url_walk import walk

BASE_DIR = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false", "HTTPS": "true", "ALLOWED_HOSTS": "invoices.example.com",
    "SECRET_KEY": "a-production-key-" + "k7Qz9xW2pL4mN8vB1cR5tY3uI6oP0aS" * 2,
    "ANYMAIL_WEBHOOK_SECRET": "tracker:a-long-webhook-password",
}


def check_deploy(tmp_path, **env) -> subprocess.CompletedProcess:
    # Only what a server would have: nothing of this test run (the browser tests, for one, set
    # DJANGO_ALLOW_ASYNC_UNSAFE, which check --deploy rightly reports).
    environment = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    environment.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings", **env)
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = check_deploy(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_is_missing_without_https(tmp_path):
    result = check_deploy(tmp_path, **{**PRODUCTION, "HTTPS": "false"})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stdout + result.stderr


def test_csrf_protects_every_page_except_the_webhooks():
    # The REST API (api-1:…) is exempt too: it takes only Bearer tokens, never the session cookie, so
    # a forged cross-site request carries nothing it accepts (tests/api/test_tokens.py).
    exempt = sorted(name for name, _, pattern in walk(get_resolver().url_patterns)
                    if getattr(pattern.callback, "csrf_exempt", False) and not name.startswith("api-1:"))
    assert exempt == ["tracking-webhook"]

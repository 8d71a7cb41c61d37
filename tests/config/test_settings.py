"""Settings come from the environment and refuse unsafe or unclear values with a message that names
the variable. Each case imports the real settings module in a fresh process, because settings are
read once at import."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

BASE_DIR = Path(settings.BASE_DIR)


def import_settings(code: str = "print(s.DEBUG)", **env: str) -> subprocess.CompletedProcess[str]:
    """Import config.settings as `s` with `env` on top of a clean environment and run `code`
    (explicit values win over a developer's .env file, which only fills variables that are unset)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "Q_"))}
    clean.update({"SECRET_KEY": "settings-test-key-" + "x" * 40, "DEBUG": "false"}, **env)
    return subprocess.run(
        [sys.executable, "-c", f"import config.settings as s; {code}"],
        cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=60,
    )


def test_settings_import_with_a_secret_key_and_debug_off() -> None:
    result = import_settings()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_missing_secret_key_is_refused_unless_debug_is_on() -> None:
    refused = import_settings(SECRET_KEY="")
    assert refused.returncode != 0
    assert "SECRET_KEY is not set" in refused.stderr

    allowed = import_settings(SECRET_KEY="", DEBUG="true")
    assert allowed.returncode == 0, allowed.stderr


def test_unclear_boolean_names_the_variable() -> None:
    result = import_settings(DEBUG="maybe")
    assert result.returncode != 0
    assert "DEBUG must be true or false, not 'maybe'" in result.stderr


def test_task_lease_must_outlast_the_task_timeout() -> None:
    # `retry` is a lease: a task still running after it is handed out again.
    result = import_settings(Q_TIMEOUT="400", Q_RETRY="400")
    assert result.returncode != 0
    assert "Q_RETRY (400) must be longer than Q_TIMEOUT (400)" in result.stderr


def test_sqlite_database_folder_is_created_on_a_fresh_clone(tmp_path: Path) -> None:
    var_dir = tmp_path / "new" / "var"
    result = import_settings("print(s.DATABASES['default']['NAME'])", VAR_DIR=str(var_dir), DATABASE_URL="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(var_dir / "db.sqlite3")
    assert var_dir.is_dir()


def test_postgres_url_gets_persistent_connections() -> None:
    result = import_settings(
        "d = s.DATABASES['default']; print(d['ENGINE'], d['NAME'], d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/invoices",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.postgresql", "invoices", "60", "True"]


def test_redis_url_switches_the_task_queue_to_redis() -> None:
    code = "print(s.Q_CLUSTER.get('redis'), s.Q_CLUSTER.get('orm'))"
    assert import_settings(code, REDIS_URL="redis://127.0.0.1:6379/0").stdout.split() == [
        "redis://127.0.0.1:6379/0", "None",
    ]
    assert import_settings(code, REDIS_URL="").stdout.split() == ["None", "default"]


@pytest.mark.parametrize(
    "path",
    [
        "vendor/bootstrap/css/bootstrap.min.css",
        "vendor/bootstrap/js/bootstrap.bundle.min.js",
        "vendor/bootstrap-icons/bootstrap-icons.min.css",
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
        "vendor/htmx/htmx.min.js",
        "vendor/sortablejs/Sortable.min.js",
    ],
)
def test_front_end_packages_are_served_from_node_modules(path: str) -> None:
    if not (BASE_DIR / "node_modules").is_dir():
        pytest.skip("front-end packages are not installed (npm ci, which ./run and ./test do)")
    assert finders.find(path), f"{path} is not found by the static files finders"


def settings_variables() -> set[str]:
    source = (BASE_DIR / "config" / "settings.py").read_text()
    pattern = r'(?:env_bool|env_int|env\.\w+|os\.environ\.get|os\.getenv)\(\s*"([A-Z][A-Z0-9_]*)"'
    return set(re.findall(pattern, source))


def test_every_variable_of_the_settings_is_documented() -> None:
    names = settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "Q_RETRY"} <= names  # the pattern still works
    readme = (BASE_DIR / "README.md").read_text()
    example = (BASE_DIR / ".env.example").read_text()
    missing_in_readme = sorted(name for name in names if f"| `{name}` |" not in readme)
    missing_in_example = sorted(name for name in names if f"# {name}=" not in example)
    assert not missing_in_readme, f"add these to the README's configuration table: {missing_in_readme}"
    assert not missing_in_example, f"add these to .env.example: {missing_in_example}"


@pytest.mark.parametrize(("env", "site_url"), [
    ({}, "http://127.0.0.1:8000"),
    ({"PORT": "9000"}, "http://127.0.0.1:9000"),
    ({"HOST": "192.0.2.10", "PORT": "8080"}, "http://192.0.2.10:8080"),
    ({"HOST": "0.0.0.0", "PORT": "80", "ALLOWED_HOSTS": "invoices.example.com,localhost"}, "http://invoices.example.com"),
    ({"HOST": "::1", "PORT": "8000"}, "http://[::1]:8000"),
    ({"PORT": "9000", "SITE_URL": "https://invoices.example.com/"}, "https://invoices.example.com"),
])
def test_site_url_follows_host_and_port_unless_it_is_set(env: dict[str, str], site_url: str) -> None:
    result = import_settings("print(s.SITE_URL)", **{"SITE_URL": "", "HOST": "", "PORT": "", **env})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [site_url]

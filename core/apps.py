from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Helpers every app uses; no models, and no import of any app of ours (like healthchecks' hc/lib)."""

    name = "core"
    verbose_name = "Core"

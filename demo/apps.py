from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`manage.py load_demo`: a small demo business, built through the services of every app."""

    name = "demo"
    verbose_name = "Demo data"

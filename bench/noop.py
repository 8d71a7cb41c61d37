"""Queue functions for the bare django-q2 baseline: they do nothing (imported by the cluster)."""


def noop() -> None:
    return None


def warmup() -> str:
    return "ready"

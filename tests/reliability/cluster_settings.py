"""Settings of the clusters the fault suite starts: the production settings, plus the fault hooks
(tests.reliability.hooks, switched on by FAULT_* environment variables) and shorter timings, so a
recovery that takes minutes in production (a run's lease, the sweeper's grace, the retry backoff)
takes seconds here. Only the timings change; the code paths are the production ones."""

import os

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.reliability.hooks.FaultHooksConfig"]

AUTOMATION_RUN_LEASE_SECONDS = int(os.environ.get("FAULT_LEASE_SECONDS", "8"))
AUTOMATION_SWEEP_AFTER_SECONDS = int(os.environ.get("FAULT_SWEEP_AFTER_SECONDS", "15"))
AUTOMATION_RETRY_BACKOFF_SECONDS = int(os.environ.get("FAULT_BACKOFF_SECONDS", "2"))

# Each line of a fault cluster's log says when it happened (the recoveries are measured in seconds).
LOGGING = {**LOGGING, "formatters": {"timed": {"format": "%(asctime)s %(message)s"}},  # noqa: F405
           "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "timed"}}}

"""Commands that must not run their follow-up tasks in-process queue them instead."""

import contextlib

from celery import current_app


@contextlib.contextmanager
def tasks_queued(*, broker_url: str | None = None):
    """Queue tasks (to `broker_url` if given) instead of running them eagerly; restore after."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    if broker_url:
        conf.broker_url = broker_url
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved

"""Commands that must not run their follow-up tasks in-process queue them instead."""

import contextlib

from celery import current_app
from kombu import pools


@contextlib.contextmanager
def tasks_queued(*, broker_url: str | None = None):
    """Queue tasks (to `broker_url` if given) instead of running them eagerly; restore after."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    if broker_url:
        conf.broker_url = broker_url
        _drop_pools()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        if broker_url:
            _drop_pools()


def _drop_pools() -> None:
    """Drop the app's pooled broker connections: the next publish or control message goes
    to `broker_url` as it is now, not to the broker a connection was opened to before."""
    current_app._pool = None
    current_app.amqp._producer_pool = None
    pools.reset()

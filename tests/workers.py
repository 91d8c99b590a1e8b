"""Real Celery worker processes for the tests that need one, on a broker of the test's choice."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# Where a test sends a task by hand; a test's worker takes every queue.
QUEUE = settings.CELERY_TASK_DEFAULT_QUEUE


def database_url() -> str:
    """Return the URL of the test database, for a worker process to open."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_worker(
    *, broker_url: str, loglevel: str = "info", pool: str = "solo", **env: str
) -> subprocess.Popen:
    """Start a worker on `broker_url` and the test database, in a process group of its own
    (its pool's children with it); `env` adds settings."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--queues",
            ",".join(settings.CELERY_TASK_QUEUES),
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            f"--loglevel={loglevel}",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def kill_worker(process: subprocess.Popen) -> str:
    """SIGKILL the whole worker, its main process and its pool alike; return what it printed."""
    os.killpg(process.pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=20)
    return output


def stop_worker(process: subprocess.Popen) -> str:
    """Stop the worker (killing it if it will not stop) and return what it printed."""
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@contextlib.contextmanager
def running_worker(*, broker_url: str, **env: str):
    """Run a worker for the block; the yielded dict holds its output afterwards."""
    process = start_worker(broker_url=broker_url, **env)
    log = {"output": ""}
    try:
        yield log
    finally:
        log["output"] = stop_worker(process)


@contextlib.contextmanager
def publishing_to(url: str):
    """Publish this process's tasks to the real broker at `url` for the block, as a web
    process does, the queues purged first."""
    from tests.test_outbox_broker import reconnect

    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, url
    reconnect()
    current_app.control.purge()
    try:
        yield
    finally:
        conf.task_always_eager, conf.broker_url = saved
        reconnect()


def wait_for(condition, seconds: float) -> bool:
    """Return whether `condition()` came true within `seconds`, asking every tenth of one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False

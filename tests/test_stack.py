"""The stack as `make up` and compose.yaml run it: every task routed to a named queue with its
time limits, a worker for every queue, compose in step with the Procfile, the services
checked before anything starts, and Ctrl-C stopping every process."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
import yaml
from celery import Celery
from django.conf import settings
from django.db import connection
from honcho.environ import parse_procfile

from config.celery import app as celery_app
from tests.test_celery_worker import BROKER_URL, broker_reachable
from tests.workers import ROOT, database_url, wait_for

PROCFILE = parse_procfile((ROOT / "Procfile").read_text()).processes
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
# The services compose adds to the Procfile's processes.
INFRASTRUCTURE = {"postgres", "redis", "migrate"}
QUEUES_OPTION = re.compile(r"--queues (\S+)")


def project_tasks() -> dict:
    celery_app.loader.import_default_modules()
    return {
        name: task
        for name, task in celery_app.tasks.items()
        if name.partition(".")[0] in ("claims", "policies")
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Routing and limits


def test_every_project_task_is_routed_to_a_named_queue_with_a_soft_and_a_hard_limit():
    tasks = project_tasks()
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]

    assert len(tasks) > 20
    for name, task in tasks.items():
        queue = celery_app.amqp.router.route({}, name)["queue"].name
        assert name in settings.CELERY_TASK_ROUTES, f"{name} has no route of its own"
        assert queue in settings.TASK_QUEUES or queue == settings.CELERY_TASK_DEFAULT_QUEUE
        # Under the visibility timeout: no running task is handed to a second worker.
        assert 0 < task.soft_time_limit < task.time_limit < visibility, name


def test_only_transient_io_errors_are_retried_by_celery_itself():
    """The sweep retries every follow-up that did not finish; Celery adds quick retries of
    I/O errors only, and never to the tasks that retry some other way."""
    retried_elsewhere = {"webhooks", "imports", "reconciliation", "outbox"}
    for name, task in project_tasks().items():
        retries_for = tuple(getattr(task, "autoretry_for", ()))
        if not retries_for:
            continue
        assert retries_for == (OSError,), name
        assert task.max_retries <= 5, name
        assert settings.TASK_LIMITS[name][0] not in retried_elsewhere, name


def test_each_kind_of_work_has_a_queue_of_its_own():
    queues = {queue for queue, _, _ in settings.TASK_LIMITS.values()}
    routed = {
        name: settings.TASK_LIMITS[name][0]
        for name in (
            "claims.tasks.claims_triage_task",
            "claims.tasks.claims_status_notify_task",
            "claims.tasks.settlement_act_make_task",
            "claims.tasks.webhook_deliver_task",
            "claims.tasks.report_import_run_task",
            "claims.tasks.reconciliation_chunk_task",
            "policies.tasks.outbox_sweep_task",
        )
    }

    assert queues == {*settings.TASK_QUEUES, "default"}
    assert list(routed.values()) == [
        "interactive",
        "interactive",
        "documents",
        "webhooks",
        "imports",
        "reconciliation",
        "outbox",
    ]


# Procfile, compose, Dockerfile


def test_the_procfile_runs_web_beat_and_one_worker_for_every_queue():
    consumed = [
        queue
        for command in PROCFILE.values()
        if " worker " in command
        for queue in QUEUES_OPTION.search(command)[1].split(",")
    ]

    assert sorted(consumed) == sorted(settings.CELERY_TASK_QUEUES)
    assert "gunicorn config.wsgi" in PROCFILE["web"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in PROCFILE["beat"]


def test_compose_runs_each_procfile_line_as_a_service_of_its_own():
    services = COMPOSE["services"]

    assert set(services) - INFRASTRUCTURE == set(PROCFILE)
    for name in PROCFILE:
        assert services[name]["command"] == ["honcho", "start", "--no-prefix", name]
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"}
        }
        assert services[name]["environment"]["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert "migrate --noinput" in " ".join(services["migrate"]["command"])


def test_the_image_installs_the_system_packages_the_makefile_names():
    makefile = re.search(r"^SYSTEM_PACKAGES := (.+)$", (ROOT / "Makefile").read_text(), re.M)
    dockerfile = re.search(r'^ARG SYSTEM_PACKAGES="(.+)"$', (ROOT / "Dockerfile").read_text(), re.M)

    assert dockerfile[1].split() == makefile[1].split()


def compose_command() -> list[str] | None:
    """Return the Docker compose client here (the plugin, or the older docker-compose)."""
    if shutil.which("docker"):
        plugin = subprocess.run(["docker", "compose", "version"], capture_output=True)
        if plugin.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_file():
    command = compose_command()
    if command is None:
        pytest.skip("no Docker compose client here (docker compose, docker-compose)")
    checked = subprocess.run(
        [*command, "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        env={**os.environ, "SECRET_KEY": "k" * 64, "POSTGRES_PASSWORD": "test"},
        capture_output=True,
        text=True,
    )

    assert checked.returncode == 0, checked.stderr


# The services checked first


def check_services(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check_services"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_services_names_every_missing_service_and_how_to_start_it():
    pg, broker = free_port(), free_port()

    checked = check_services(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{pg}/sellercover",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{broker}/0",
    )

    assert checked.returncode == 1
    assert f"PostgreSQL is not reachable at 127.0.0.1:{pg}" in checked.stderr
    assert "systemctl start postgresql" in checked.stderr
    assert f"Redis is not reachable at 127.0.0.1:{broker}" in checked.stderr
    assert "redis-server --daemonize yes" in checked.stderr
    assert "2 service(s) missing" in checked.stderr


def test_check_services_refuses_sqlite_and_eager_tasks():
    checked = check_services(DATABASE_URL="sqlite:///var/never.sqlite3", CELERY_BROKER_URL="")

    assert checked.returncode == 1
    assert "runs on PostgreSQL, and DATABASE_URL names sqlite" in checked.stderr
    assert "No broker: set CELERY_BROKER_URL" in checked.stderr


def test_check_services_names_a_rabbitmq_that_is_not_there():
    port = free_port()

    checked = check_services(
        DATABASE_URL="sqlite:///var/never.sqlite3",
        CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{port}//",
    )

    assert f"RabbitMQ is not reachable at 127.0.0.1:{port}" in checked.stderr
    assert "rabbitmq-server" in checked.stderr


@pytest.mark.postgres
@pytest.mark.django_db
def test_check_services_passes_and_names_a_missing_database():
    if connection.vendor != "postgresql" or not broker_reachable():
        pytest.skip("needs PostgreSQL and the test broker: runs in CI's PostgreSQL pass")

    present = check_services(DATABASE_URL=database_url(), CELERY_BROKER_URL=BROKER_URL)
    missing = check_services(
        DATABASE_URL=database_url().rsplit("/", 1)[0] + "/sellercover_none",
        CELERY_BROKER_URL=BROKER_URL,
    )

    assert present.returncode == 0, present.stderr
    assert "PostgreSQL and the broker answer" in present.stdout
    assert missing.returncode == 1
    assert "has no database sellercover_none. Create it: createdb" in missing.stderr


# The whole stack under honcho


@pytest.mark.broker
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_whole_stack_starts_and_ctrl_c_stops_every_process(tmp_path):
    if not broker_reachable():
        pytest.skip(f"NO BROKER REACHABLE at {BROKER_URL}: the stack test did not run")
    if connection.vendor != "postgresql":
        pytest.skip("the stack's processes need a shared database: runs in the PostgreSQL pass")
    port = free_port()
    log = tmp_path / "honcho.log"
    with log.open("w") as output:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "start", "--env", "/dev/null", "--port", str(port)],
            cwd=ROOT,
            env={
                **os.environ,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": BROKER_URL,
                "CELERY_TASK_ALWAYS_EAGER": "false",
                "DEBUG": "false",
                "SECRET_KEY": "test-only-" + "k" * 60,
                "ALLOWED_HOSTS": "127.0.0.1",
                "SECURE_SSL_REDIRECT": "false",
                "PRIVATE_MEDIA_ROOT": str(tmp_path / "media"),
                "CELERY_CONCURRENCY": "1",
                "WEB_CONCURRENCY": "1",
            },
            stdout=output,
            stderr=subprocess.STDOUT,
            # As a terminal's Ctrl-C does: the signal goes to honcho's group, not its children's.
            start_new_session=True,
        )
    workers = sum(" worker " in command for command in PROCFILE.values())
    probe = Celery(broker=BROKER_URL, set_as_current=False)
    try:
        up = wait_for(lambda: web_answers(port), 90) and wait_for(
            lambda: len(probe.control.ping(timeout=1)) == workers, 60
        )
        os.killpg(honcho.pid, signal.SIGINT)
        returncode = honcho.wait(timeout=30)
    finally:
        if honcho.poll() is None:
            os.killpg(honcho.pid, signal.SIGKILL)
        # What beat queued meanwhile; no later test may get it.
        redis.Redis.from_url(BROKER_URL).flushdb()
    text = log.read_text()
    started = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", text)]

    assert up, text[-5000:]
    assert returncode == 130, text[-5000:]
    assert "SIGINT received" in text
    # Every process stopped on honcho's SIGTERM, none had to be killed.
    assert "SIGKILL" not in text, text[-5000:]
    assert len(started) == len(PROCFILE)
    assert len(re.findall(r"stopped \(rc=", text)) == len(PROCFILE)
    assert not [pid for pid in started if group_alive(pid)]


def web_answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/claims/", timeout=2)
    except urllib.error.HTTPError as refused:
        return refused.code in (401, 403)
    except OSError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    """Return whether any process of the group `pgid` (a process and its pool) is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True

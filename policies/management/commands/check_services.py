"""Check that the services a production stack needs answer: PostgreSQL and the broker.

`make up` runs it first, so a machine without PostgreSQL, Redis or RabbitMQ is told which is
missing and how to start it, instead of nine processes failing at once. It connects with
what the settings name (DATABASE_URL, CELERY_BROKER_URL) and never prints a password.
"""

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from kombu import Connection

TIMEOUT_SECONDS = 3
START = {
    "postgresql": "sudo systemctl start postgresql (or pg_ctlcluster VERSION main start), or "
    "docker compose up -d postgres",
    "redis": "redis-server --daemonize yes --bind 127.0.0.1 (or sudo systemctl start "
    "redis-server, or docker compose up -d redis)",
    "rabbitmq": "sudo systemctl start rabbitmq-server (or rabbitmq-server -detached)",
}


def database_problem(alias: str = "default") -> str | None:
    """Return what is wrong with the database `alias`, or None if it answers."""
    db, vendor = connections[alias].settings_dict, connections[alias].vendor
    if vendor != "postgresql":
        return (
            f"The stack runs on PostgreSQL, and DATABASE_URL names {vendor}: "
            "set DATABASE_URL=postgres://USER@HOST:5432/DATABASE."
        )
    host, port = db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432)
    try:
        psycopg.connect(
            host=host,
            port=port,
            dbname=db["NAME"],
            user=db["USER"] or None,
            password=db["PASSWORD"] or None,
            connect_timeout=TIMEOUT_SECONDS,
        ).close()
    except psycopg.OperationalError as exc:
        # psycopg's first line ends with the cause ("…port 5432 failed: Connection refused").
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rsplit("failed: ")[-1]
        if f'database "{db["NAME"]}" does not exist' in str(exc):
            return (
                f"PostgreSQL at {host}:{port} has no database {db['NAME']}. Create it: "
                f"createdb -h {host} -p {port} -U {db['USER'] or 'postgres'} {db['NAME']}"
            )
        return (
            f"PostgreSQL is not reachable at {host}:{port} ({reason}). "
            f"Start it: {START['postgresql']}."
        )
    return None


def broker_problem(url: str) -> str | None:
    """Return what is wrong with the Celery broker at `url`, or None if it answers."""
    if url.startswith("memory://"):
        return (
            "No broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0 "
            "(or amqp://guest:guest@127.0.0.1:5672// for RabbitMQ)."
        )
    with Connection(url, connect_timeout=TIMEOUT_SECONDS) as connection:
        kind = "rabbitmq" if connection.transport_cls in ("amqp", "pyamqp") else "redis"
        name = {"rabbitmq": "RabbitMQ", "redis": "Redis"}[kind]
        where = f"{connection.hostname or '127.0.0.1'}:{connection.port or ''}".rstrip(":")
        try:
            connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
        except Exception as exc:  # kombu re-raises each transport's own connection errors
            if "vhost" in str(exc).lower():
                return (
                    f"RabbitMQ at {where} has no virtual host {connection.virtual_host}. "
                    f"Create it: sudo rabbitmqctl add_vhost {connection.virtual_host}"
                )
            return f"{name} is not reachable at {where} ({exc}). Start it: {START[kind]}."
    return None


class Command(BaseCommand):
    help = "Check that PostgreSQL and the Celery broker the settings name answer."

    def handle(self, *args, **options):
        checks = {
            "database": database_problem(),
            "broker": broker_problem(settings.CELERY_BROKER_URL),
        }
        problems = [problem for problem in checks.values() if problem]
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} service(s) missing: the stack cannot start.")
        self.stdout.write("PostgreSQL and the broker answer.")

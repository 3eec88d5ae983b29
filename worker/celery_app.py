"""The Celery app, configured from the same Settings as the web app."""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from app.config import Settings

ANIMATE_TASK = "vivant.animate"
FILM_TASK = "vivant.film"
QUEUES = ("cpu", "gpu")
_SQLA_PREFIX = "sqla+"


def create_celery(settings: Settings) -> Celery:
    broker_url = settings.celery_broker_url
    transport_options: dict[str, object] = {
        # Redis re-delivers an unacknowledged task after this long; time limits stay below it.
        "visibility_timeout": settings.broker_visibility_timeout_s,
    }
    transport: type | None = None
    if settings.uses_embedded_broker:
        settings.ensure_dirs()
        # kombu hands sqla transport options to create_engine(), which knows none of these.
        transport_options = {}
        if broker_url.startswith(_SQLA_PREFIX):
            from worker.broker import EmbeddedTransport

            # kombu's sqla transport, mended for processes that start together (worker/broker.py). The
            # "sqla+" prefix would pick kombu's own class over ours, so the URL goes without it.
            broker_url, transport = broker_url.removeprefix(_SQLA_PREFIX), EmbeddedTransport
    else:
        transport_options |= {"socket_connect_timeout": 3, "socket_timeout": 10}
    celery = Celery("vivant", broker=broker_url, include=["worker.tasks"])
    celery.conf.update(
        broker_transport=transport,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        result_backend=None,
        # Each queue its own exchange and key: with Celery's defaults every queue would bind to the
        # default exchange under the default key, and a GPU clip would land on the CPU queue as well.
        task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
        task_default_queue="cpu",
        # A clip is acknowledged only once it is done; a worker that dies hands it back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_time_limit_s,
        task_time_limit=settings.task_hard_limit_s,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        vivant_settings=settings,
    )
    return celery


def settings_of(celery: Celery) -> Settings:
    settings: Settings = celery.conf["vivant_settings"]
    return settings

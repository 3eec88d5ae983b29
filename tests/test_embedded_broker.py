"""The embedded broker (SQLite) when several processes start on a fresh data dir at the same moment, as
`vivant serve` starts its web app and worker: none of them may fail, and no message may be lost."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import Queue as ResultQueue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from app.config import Settings
from worker.celery_app import QUEUES, create_celery

PROCESSES = 6
ROUNDS = 5


def _declare_and_publish(data_dir: str, start: Barrier, results: ResultQueue) -> None:  # type: ignore[type-arg]
    """One process: the broker's first use, declaring every queue and sending one message."""
    celery = create_celery(Settings(data_dir=Path(data_dir), secret_key="broker-" + "z" * 24))
    start.wait(timeout=60)
    try:
        with celery.connection_for_write() as connection:
            with connection.Producer() as producer:
                for queue in celery.amqp.queues.values():
                    queue(connection.default_channel).declare()
                producer.publish({"from": data_dir}, routing_key="cpu", exchange="cpu", retry=False)
        results.put("ok")
    except Exception as exc:  # reported to the test, which shows it
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_starting_together_on_a_fresh_broker_all_get_through(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"data{round_}"
        start, results = context.Barrier(PROCESSES), context.Queue()
        processes = [
            context.Process(target=_declare_and_publish, args=(str(data_dir), start, results))
            for _ in range(PROCESSES)
        ]
        for process in processes:
            process.start()
        outcomes = [results.get(timeout=120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
        assert outcomes == ["ok"] * PROCESSES, f"round {round_}: {outcomes}"

        celery = create_celery(Settings(data_dir=data_dir, secret_key="broker-" + "z" * 24))
        with celery.connection_for_read() as connection:
            received = []
            for name in QUEUES:
                queue = connection.SimpleQueue(celery.amqp.queues[name])
                while True:
                    try:
                        message = queue.get(timeout=0.5)
                    except queue.Empty:
                        break
                    received.append((name, message.payload))
                    message.ack()
        assert received == [("cpu", {"from": str(data_dir)})] * PROCESSES

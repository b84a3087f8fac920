"""The worker's own metrics (membervault/observability/worker_metrics.py): a real
``membervault worker --once`` writes them in the metrics directory and the server's
/metrics serves them; several workers add up; the files of workers gone are removed when
the next one starts, a live worker's are kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from starlette.testclient import TestClient

from membervault.app import create_app
from membervault.observability.worker_metrics import SUBDIRECTORY, files_of_workers
from membervault.services import Services
from tests.conftest import Api
from tests.membervault.observability.support import METRICS_TOKEN, scrape, value
from tests.subject_requests.support import OPEN
from vaultkernel.settings import Settings

BIN = Path(sys.executable).parent / "membervault"
EXPORTS = {"step": "exports"}


def environment(settings: Settings, metrics_dir: Path) -> dict[str, str]:
    """The test's settings for a command run as its own process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERVAULT_")}
    env.update(MEMBERVAULT_DATABASE_URL=settings.database_url,
               MEMBERVAULT_KEK_FILE=settings.kek_file, MEMBERVAULT_ISSUER=settings.issuer,
               MEMBERVAULT_EXPORT_DIR=settings.export_dir,
               MEMBERVAULT_MAILBOX_FILE=settings.mailbox_file,
               MEMBERVAULT_METRICS_DIR=str(metrics_dir))
    return env


def test_a_worker_process_counts_its_jobs_on_the_servers_metrics(
        settings: Settings, services: Services, jane_api: Api, tmp_path: Path) -> None:
    opened = jane_api.graphql(OPEN, {"input": {"type": "ACCESS"}})["data"]["openMyRequest"]
    assert opened["errors"] == []
    served = settings.replace(metrics_token=METRICS_TOKEN, metrics_dir=str(tmp_path))
    with TestClient(create_app(served, services)) as http:
        before = scrape(http)
        assert value(before, "membervault_worker_jobs_done_total", **EXPORTS) == 0
        subprocess.run([str(BIN), "worker", "--once"], env=environment(settings, tmp_path),
                       cwd=tmp_path, check=True, capture_output=True, timeout=120)
        after = scrape(http)
    assert value(after, "membervault_worker_jobs_done_total", **EXPORTS) == 1
    assert value(after, "membervault_worker_step_duration_seconds_count", **EXPORTS) == 1
    assert value(after, "membervault_jobs_queued", queue="exports") == 0
    # the server's own families are still there, once each
    assert ("membervault_access_log_write_duration_seconds_count", frozenset()) in after


RECORD = """
import sys
from membervault.observability import worker_metrics
worker_metrics.record_in(sys.argv[1])
worker_metrics.jobs_done("deliveries", int(sys.argv[2]))
worker_metrics.observe("worker.deliveries", 0.02, "ConnectError")
print("recorded", flush=True)
sys.stdin.readline()  # lives until told
"""


def start_worker(directory: Path, done: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", RECORD, str(directory), str(done)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline() == "recorded\n"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    process.communicate("\n", timeout=30)


def workers_samples(directory: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for collector in files_of_workers(str(directory))
            for family in collector.collect() for s in family.samples}


def test_workers_add_up_and_the_files_of_workers_gone_are_removed(tmp_path: Path) -> None:
    assert workers_samples(tmp_path) == {}  # no worker yet: nothing to add
    first, second = start_worker(tmp_path, 2), start_worker(tmp_path, 3)
    samples = workers_samples(tmp_path)
    assert value(samples, "membervault_worker_jobs_done_total", step="deliveries") == 5
    assert value(samples, "membervault_worker_step_failures_total", step="deliveries",
                 reason="ConnectError") == 2
    stop(first)
    third = start_worker(tmp_path, 7)  # removes the first's files; the second lives on
    samples = workers_samples(tmp_path)
    assert value(samples, "membervault_worker_jobs_done_total", step="deliveries") == 10
    stop(second)
    stop(third)
    locks = {f.stem for f in (tmp_path / SUBDIRECTORY).glob("*.lock")}
    assert len(locks) == 2
    assert all(f.stem.rsplit("_", 1)[1] in locks
               for f in (tmp_path / SUBDIRECTORY).glob("*.db"))

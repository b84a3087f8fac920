"""Claiming jobs (vaultkernel.jobs.claim): a lease on free rows only, set in the caller's
transaction, so the caller's commit makes the claim hold and its rollback releases it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import BACKEND
from tests.vaultkernel.conftest import Job
from vaultkernel.database import Database
from vaultkernel.jobs import claim, release

NOW = dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC)
LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def jobs(database: Database) -> Database:
    """Five open jobs (1-5): job 2 leased until after NOW, job 3 whose lease has lapsed,
    job 5 already done."""
    with database.unit_of_work() as uow:
        uow.session.add_all([
            Job(id=1), Job(id=2, lease_until=NOW + dt.timedelta(minutes=1)),
            Job(id=3, lease_until=NOW - dt.timedelta(seconds=1)), Job(id=4),
            Job(id=5, state="done")])
        uow.commit()
    return database


def leases(database: Database) -> dict[int, dt.datetime | None]:
    with database.unit_of_work() as uow:
        return {id_: lease for id_, lease in uow.session.execute(select(Job.id, Job.lease_until))}


def take(database: Database, limit: int = 10) -> list[int]:
    with database.unit_of_work() as uow:
        claimed = claim(uow.session, Job, Job.state == "open", lease=LEASE, limit=limit,
                        order_by=Job.id, now=NOW)
        uow.commit()
        return [job.id for job in claimed]


def test_free_and_lapsed_rows_are_claimed_with_a_lease_and_leased_ones_skipped(
        jobs: Database) -> None:
    assert take(jobs) == [1, 3, 4]
    after = leases(jobs)
    assert after[1] == after[3] == after[4] == NOW + LEASE
    assert after[2] == NOW + dt.timedelta(minutes=1)  # the other worker's lease is untouched
    assert after[5] is None  # not a candidate


def test_a_claimed_row_is_not_claimed_again_until_its_lease_lapses(jobs: Database) -> None:
    assert take(jobs, limit=1) == [1]
    assert take(jobs, limit=1) == [3]
    assert take(jobs) == [4]
    assert take(jobs) == []
    with jobs.unit_of_work() as uow:
        later = claim(uow.session, Job, lease=LEASE, order_by=Job.id,
                      now=NOW + LEASE + dt.timedelta(seconds=1), limit=10)
        assert [job.id for job in later] == [1, 2, 3, 4, 5]


def test_claim_does_not_commit_the_callers_rollback_releases_the_claim(jobs: Database) -> None:
    with jobs.unit_of_work() as uow:
        claimed = claim(uow.session, Job, Job.state == "open", lease=LEASE, order_by=Job.id,
                        now=NOW)
        assert [job.id for job in claimed] == [1]
        assert claimed[0].lease_until == NOW + LEASE
        # leaving without a commit: the worker died before committing its claim
    assert leases(jobs)[1] is None
    assert take(jobs, limit=1) == [1]


def test_release_frees_the_row_for_the_next_claim(jobs: Database) -> None:
    assert take(jobs, limit=1) == [1]
    with jobs.unit_of_work() as uow:
        release(uow.session, uow.session.get_one(Job, 1))
        uow.commit()
    assert leases(jobs)[1] is None
    assert take(jobs, limit=1) == [1]


@pytest.mark.skipif(BACKEND != "postgresql", reason="SQLite serialises writers instead")
def test_a_row_another_transaction_is_claiming_is_skipped_not_waited_for(
        jobs: Database) -> None:
    with jobs.unit_of_work() as first, jobs.unit_of_work() as second:
        mine = claim(first.session, Job, Job.state == "open", lease=LEASE, order_by=Job.id,
                     now=NOW)
        theirs = claim(second.session, Job, Job.state == "open", lease=LEASE, order_by=Job.id,
                       now=NOW)
        assert ([j.id for j in mine], [j.id for j in theirs]) == ([1], [3])

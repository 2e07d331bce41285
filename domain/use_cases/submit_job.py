"""Use case: submit a feed as a job (the first half of the job queue, ADR 0025).

Invariant: a submission either is refused before anything is stored, or commits the job
and its body durably before the caller answers 202; an Idempotency-Key used before with
the same request answers with what that request got (its job or its report), never a
second job. Processing is in process_job.py, lookups in query_jobs.py.
"""

from __future__ import annotations

import attrs

from partner_ingest.domain.model.audit import AuditAction, AuditEntry, Outcome
from partner_ingest.domain.model.errors import IdempotencyKeyTaken, NotFoundError
from partner_ingest.domain.model.idempotency import KeyUse
from partner_ingest.domain.model.jobs import Job, JobStatus
from partner_ingest.domain.model.lifecycle import ContractLifecycle
from partner_ingest.domain.model.report import IngestReport
from partner_ingest.ports.clock import Clock, IdSource
from partner_ingest.ports.formats import FormatRegistry
from partner_ingest.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory

from .feed_terms import FeedSubmission, StoredBody, earlier_use, resolve_terms

__all__ = ["SubmitFeedJob"]


class SubmitFeedJob:
    """Accept a feed now, process it later: the job and its body are stored durably."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        formats: FormatRegistry,
        clock: Clock,
        ids: IdSource,
        *,
        max_attempts: int = 5,
        lifecycle: ContractLifecycle | None = None,
    ) -> None:
        self._uow = uow
        self._formats = formats
        self._clock = clock
        self._ids = ids
        self._max_attempts = max_attempts
        self._lifecycle = lifecycle

    def __call__(
        self, submission: FeedSubmission, *, body_bytes: int, content_hash: str
    ) -> Job | IngestReport:
        """The stored job; or, for an Idempotency-Key used before with the same request, what
        that request got: its job, or the report of the feed it had processed at once.

        Everything that can be refused without reading the feed is refused here,
        before anything is stored: unknown partner, format or version, a policy
        override the partner may not make, a key first used for another request.

        Two submissions under one Idempotency-Key at the same moment (a client's retry
        that a load balancer sends to another instance while the first still stores the
        body) both find the key unused; the store lets one of them record it and refuses
        the other (IdempotencyKeyTaken), which then answers as a repeat of the winner.
        """
        submission = attrs.evolve(submission, content_hash=content_hash)
        try:
            return self._submit(submission, body_bytes=body_bytes)
        except IdempotencyKeyTaken:
            return self._submit(submission, body_bytes=body_bytes)

    def _submit(self, submission: FeedSubmission, *, body_bytes: int) -> Job | IngestReport:
        assert submission.content_hash is not None
        assert not isinstance(submission.body, StoredBody)
        with self._uow() as uow:
            terms = resolve_terms(
                uow, self._formats, submission, lifecycle=self._lifecycle, now=self._clock.now()
            )
            partner, fmt = terms.partner, terms.format
            fingerprint = terms.fingerprint(submission.content_hash)
            key = submission.idempotency_key
            if key is not None:
                use = earlier_use(uow, partner.id, key, fingerprint)
                if use is not None:
                    return _answer_of(uow, use)
            now = self._clock.now()
            job = Job(
                id=self._ids.new_id("job"),
                partner_id=partner.id,
                format=fmt.name,
                version=fmt.version,
                status=JobStatus.QUEUED,
                created_at=now,
                available_at=now,
                content_hash=submission.content_hash,
                body_bytes=body_bytes,
                max_attempts=self._max_attempts,
                policy=None if terms.policy == partner.policy else terms.policy,
                idempotency_key=key,
                source=submission.source,
                feed_mode=submission.feed_mode,
            )
            if key is not None:  # first: a request that lost the race stores no body
                uow.idempotency_keys.add(KeyUse(partner.id, key, fingerprint, now, job_id=job.id))
            uow.jobs.add(job, submission.body)
            uow.audit.append(
                AuditEntry(
                    at=now,
                    action=AuditAction.JOB_SUBMITTED,
                    outcome=Outcome.SUCCESS,
                    actor=partner.id,
                    partner_id=partner.id,
                    client=submission.client,
                    details={
                        "job_id": job.id,
                        "format": job.format,
                        "version": job.version,
                        "bytes": body_bytes,
                        "source": job.source,
                    },
                )
            )
            uow.commit()  # durable: the caller answers 202 on it
            return job


def _answer_of(uow: UnitOfWork, use: KeyUse) -> Job | IngestReport:
    """What a key's first use got: its job, or its import's report."""
    if use.job_id is not None:
        job = uow.jobs.get(use.job_id)
        if job is None:  # pragma: no cover - recorded in the same unit of work as the key
            raise NotFoundError("job", use.job_id)
        return job
    assert use.feed_id is not None
    entry = uow.imports.get(use.feed_id)
    if entry is None:  # pragma: no cover - recorded in the same unit of work as the key
        raise NotFoundError("feed import", use.feed_id)
    return entry.report

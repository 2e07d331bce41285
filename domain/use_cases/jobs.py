"""The job queue's use cases in one place (ADR 0025): submit a feed as a job (submit_job.py),
process the next job under its lease (process_job.py), look jobs up, revive and cancel them
(query_jobs.py). Import from here or from the module that holds the name.

A job, once accepted, is never lost and never applied twice: submission commits it durably
before the caller answers 202; processing applies it in one ingest that also completes it,
only while its lease holds; identical content under the same terms is recognized by its
fingerprint and not applied twice; the queue gives a partner one running job at a time, in
submission order, so two copies are never processed side by side and a later feed never
overtakes an earlier one.
"""

from .process_job import JobOutcome, JobProgress, JobResult, ProcessNextJob
from .query_jobs import (
    MAX_JOB_OFFSET,
    MAX_JOB_PAGE,
    MAX_JOB_SCAN,
    JobBodyPurgedError,
    JobFinishedError,
    JobNotDeadError,
    JobPage,
    QueryJobs,
)
from .submit_job import SubmitFeedJob

__all__ = [
    "MAX_JOB_OFFSET",
    "MAX_JOB_PAGE",
    "MAX_JOB_SCAN",
    "JobBodyPurgedError",
    "JobFinishedError",
    "JobNotDeadError",
    "JobOutcome",
    "JobPage",
    "JobProgress",
    "JobResult",
    "ProcessNextJob",
    "QueryJobs",
    "SubmitFeedJob",
]

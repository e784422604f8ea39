"""Prefect tasks: thin I/O glue, one step each, around functions in `afs`."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from prefect import Task, task
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import State
from prefect.tasks import exponential_backoff

from afs.build.steps import store_did_not_answer
from afs.errors import AfsError, ImageBuildError, internal_failure
from afs.settings import get_settings

P = ParamSpec("P")
R = TypeVar("R")

# Not under `prefect`: these records stay in the worker's own log and never reach Prefect's API,
# the run's logs or the tenant's log tarball.
operator_log = logging.getLogger("afs.operator")


def contained(
    function: Callable[P, R], expected: tuple[type[AfsError], ...] = (ImageBuildError,)
) -> Callable[P, R]:
    """`function`, raising only `expected` errors (written for the tenant): any other exception
    is logged for the operators and replaced by a neutral INTERNAL_ERROR, chain cut, before
    Prefect's engine logs it (with its text and traceback) to the run's log."""

    @functools.wraps(function)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except expected:
            raise
        except Exception as exc:
            operator_log.exception("unexpected failure in %s", function.__name__)
            raise internal_failure(exc, str(flow_run.id)) from None

    return guarded


def _store_did_not_answer(task: Task[..., object], task_run: TaskRun, state: State) -> bool:
    error = state.result(raise_on_failure=False)
    return isinstance(error, ImageBuildError) and store_did_not_answer(error)


def storage_step(name: str) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A build step that talks to a store: a store that does not answer is tried again with
    back-off and jitter (settings `storage_step_*`), so one 503 never fails a four-hour build."""
    settings = get_settings()

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return task(
            name=name,
            retries=settings.storage_step_retries,
            retry_delay_seconds=exponential_backoff(settings.storage_step_backoff_seconds),
            retry_jitter_factor=0.5,
            retry_condition_fn=_store_did_not_answer,
        )(contained(function))

    return decorate


def build_step(
    name: str, expected: tuple[type[AfsError], ...] = (ImageBuildError,)
) -> Callable[[Callable[P, R]], Task[P, R]]:
    """A Prefect task of one step whose failures are always `expected` ones (`contained`)."""

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return task(name=name)(contained(function, expected))

    return decorate

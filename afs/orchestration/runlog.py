"""A flow run's log as Prefect kept it, for the log tarball of a build whose process is gone."""

from __future__ import annotations

import logging
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.sorting import LogSort

from afs.orchestration.prefect_internals import send_pending_run_logs

_PAGE = 200
MAX_LINES = 20_000  # a Vivado run logs its notable lines only; this is far beyond a real build


def read_run_log(flow_run_id: str) -> list[str]:
    """One line per record, oldest first: time, level, logger and the message's first line.

    Only the first line: a record's further lines are a traceback, which names the factory's
    files and is for the operators, not the tenant.
    """
    send_pending_run_logs()
    log_filter = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[UUID(flow_run_id)]))
    lines: list[str] = []
    with get_client(sync_client=True) as client:
        while len(lines) < MAX_LINES:
            page = client.read_logs(
                log_filter=log_filter, limit=_PAGE, offset=len(lines), sort=LogSort.TIMESTAMP_ASC
            )
            lines += [
                f"{record.timestamp.isoformat()} {logging.getLevelName(record.level)} "
                f"{record.name}: {record.message.partition(chr(10))[0]}"
                for record in page
            ]
            if len(page) < _PAGE:
                break
    return lines

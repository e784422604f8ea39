"""Prefect flows: one module per flow.

A flow run publishes each image status change it writes as a Prefect event
(afs.orchestration.events).
"""

from afs.orchestration.events import publish_status_changes

publish_status_changes()

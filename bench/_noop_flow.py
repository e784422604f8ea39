"""The floor of bench/accept_to_build.py: a flow that does nothing, run from a deployment by a
Prefect process worker polling as the factory's does. Only Prefect is imported."""

from prefect import flow


@flow(name="bench-noop", persist_result=False)
def noop() -> None:
    return None

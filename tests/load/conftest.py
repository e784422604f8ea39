"""The load test builds on the client tests' stack: the session's API, a dispatcher, a worker."""

from tests.client.conftest import factory_api

__all__ = ["factory_api"]

"""What the orchestration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from afs.catalog import Catalog


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """A catalog of the test's own, at the latest revision: its images reach no other test and
    none of the session's dispatchers."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.create_schema()
    yield catalog
    catalog.dispose()

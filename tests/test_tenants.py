"""Each project's storage configuration: private, and nothing lost when writers race."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from afs.settings import Settings
from afs.tenants import TenantStorage, load_tenant, save_tenant


def test_concurrent_writers_lose_no_entry(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    errors: list[BaseException] = []

    def save(number: int) -> None:
        try:
            storage = TenantStorage(access_key=f"ak{number}", secret_key=f"sk{number}", buckets=[])
            save_tenant(settings, f"{number:032x}", storage)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(number,)) for number in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for number in range(30):
        loaded = load_tenant(settings, f"{number:032x}")
        assert loaded.access_key.get_secret_value() == f"ak{number}"
    assert stat.S_IMODE(settings.tenants_path.stat().st_mode) == 0o600
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(".")) == []

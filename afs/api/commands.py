"""`afs serve` (the API, its dispatcher in a child process), `afs credentials create`: afs/cli.py.

afs/cli.py adds them with `register(commands)`; `python -m afs.api.commands ...` runs them alone.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from afs.catalog import default_catalog
    from afs.devstack.localstack import stop
    from afs.settings import server_settings

    # Refused before anything starts: built-in secrets, a catalog at another schema revision.
    server_settings()
    default_catalog()
    # The API never waits for Prefect: the dispatcher turns the rows it writes into flow runs.
    # It runs in a process of its own so that its Prefect calls never hold a serving process's
    # interpreter lock, and it ends when this process does, however this process ends.
    # With --no-dispatcher, dispatchers run elsewhere (`afs dispatcher`, in any number of replicas).
    dispatcher = None
    if not args.no_dispatcher:
        command = [sys.executable, "-m", "afs.cli", "dispatcher", "--parent-pid", str(os.getpid())]
        dispatcher = subprocess.Popen([*command, "--interval", str(args.dispatch_interval)])
    try:
        uvicorn.run(
            "afs.api.app:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            access_log=False,
            log_level="info",
        )
    finally:
        if dispatcher is not None:
            stop(dispatcher, grace=30, group=False)
    return 0


def _create_credentials(args: argparse.Namespace) -> int:
    from afs.catalog import default_catalog
    from afs.catalog.credentials import CredentialStore
    from afs.models import PROJECT_ID_PATTERN
    from afs.settings import get_settings

    if not re.fullmatch(PROJECT_ID_PATTERN, args.project):
        print("afs credentials create: --project must be 32 lowercase hex", file=sys.stderr)
        return 2
    store = CredentialStore.from_settings(get_settings(), default_catalog())
    print(json.dumps(store.create(args.project).model_dump(), indent=2))
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and `credentials create` to the `afs` command's subcommands."""
    serve = commands.add_parser("serve", help="serve the HTTP API, with the dispatcher beside it")
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--dispatch-interval", type=float, default=1.0, help="seconds")
    serve.add_argument(
        "--no-dispatcher", action="store_true", help="run no dispatcher (`afs dispatcher` does)"
    )
    serve.add_argument(
        "--workers", type=int, default=1, help="serving processes (the catalog is shared)"
    )
    serve.set_defaults(run=_serve)

    credentials = commands.add_parser("credentials", help="API access keys")
    credential_commands = credentials.add_subparsers(dest="credentials_command", required=True)
    create = credential_commands.add_parser(
        "create", help="create an AK/SK pair bound to a project; prints it once as JSON"
    )
    create.add_argument("--project", required=True, help="the project id (32 lowercase hex)")
    create.set_defaults(run=_create_credentials)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="afs")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

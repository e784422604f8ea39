"""`afs image ...`: a tenant's commands, through the factory's HTTP API (afs/client/library.py).

afs/cli.py adds them with `register(commands)`. The keys come from the environment or
`~/.afs/client.json` (afs/client/config.py). Exit status: 0 done (for `wait`: active), 1 the
image ended in error or the API, the store or the network refused, 2 bad configuration or input.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:  # only the command that runs loads the client: `afs --help` stays fast
    from afs.client import FactoryClient
    from afs.wire.schemas import ImageItem

_CONFIGURATION = (
    "Keys: AFS_API_URL, AFS_ACCESS_KEY, AFS_SECRET_KEY, AFS_PROJECT_ID, and for uploads and logs "
    "the tenant's storage: AFS_STORAGE_ENDPOINT, AFS_STORAGE_ACCESS_KEY, AFS_STORAGE_SECRET_KEY "
    "(AFS_STORAGE_REGION); or the same keys in ~/.afs/client.json (mode 0600; "
    "AFS_CLIENT_CONFIG names another file)."
)


class ProgressBar:
    """`name [#####.....] 45% 12.0/26.5 MiB` on one line of `stream`; safe across threads."""

    def __init__(self, name: str, total: int, stream: IO[str], width: int = 30) -> None:
        self._name, self._total, self._stream, self._width = name, total, stream, width
        self._sent = 0
        self._drawn = 0.0
        self._lock = threading.Lock()

    def __call__(self, sent: int) -> None:
        with self._lock:
            self._sent += sent
            # At most ten redraws a second, and always the last one.
            if self._sent < self._total and time.monotonic() - self._drawn < 0.1:
                return
            self._drawn = time.monotonic()
            done = min(self._sent / self._total, 1.0) if self._total else 1.0
            bar = "#" * round(done * self._width)
            self._stream.write(
                f"\r{self._name} [{bar:.<{self._width}}] {done:4.0%} "
                f"{self._sent / 2**20:.1f}/{self._total / 2**20:.1f} MiB"
            )
            self._stream.flush()

    def close(self) -> None:
        self._stream.write("\n")
        self._stream.flush()


def _say_status(item: ImageItem) -> None:
    print(f"status: {item.status.value}", flush=True)


def _report_finished(item: ImageItem) -> int:
    from afs.client import log_tarball_location
    from afs.models import IMAGE_FILE_KEY
    from afs.status import ImageStatus

    if item.message:
        print(f"message: {item.message}")
    if (location := log_tarball_location(item)) is not None:
        print(f"log tarball: {':'.join(location)}")
    if item.status is ImageStatus.ACTIVE:
        print(f"image file: {item.metadata.get(IMAGE_FILE_KEY)} ({item.size} MB)")
    return 0 if item.status is ImageStatus.ACTIVE else 1


def _upload(client: FactoryClient, path: Path, location: str) -> None:
    """Upload a local file to `bucket:key` in the tenant's storage, with a progress bar."""
    bar = ProgressBar(path.name, path.stat().st_size, sys.stderr)
    try:
        client.upload(path, location, progress=bar)
    finally:
        bar.close()


def _create(args: argparse.Namespace, client: FactoryClient) -> int:
    from pydantic import ValidationError

    from afs.models import FpgaImageRequest

    try:
        request = FpgaImageRequest(
            dcp_location=args.dcp_location,
            log_directory=args.log_directory,
            name=args.name,
            description=args.description,
        )
    except ValidationError as exc:
        # Checked here too so that a bad name does not cost a long upload first.
        return _options_problem("create", exc)
    for option, path in (("--dcp-file", args.dcp_file), ("--xclbin", args.xclbin)):
        if path is not None and not path.is_file():
            print(f"afs image create: {option} {path.absolute()}: no such file", file=sys.stderr)
            return 2
    if args.xclbin is not None:
        from afs.inputs.bitstream import BitstreamError, read_xclbin

        try:  # before anything is uploaded or created
            read_xclbin(args.xclbin)
        except BitstreamError as exc:
            print(f"afs image create: --xclbin {args.xclbin.absolute()}: {exc}", file=sys.stderr)
            return 2
    if args.dcp_file is not None:
        _upload(client, args.dcp_file, request.dcp_location)
    created = client.create(request)
    print(f"image {created.id}: {created.status.value}", flush=True)
    if args.xclbin is not None:
        _add_image_id(args.xclbin, created.id)
    if not args.wait:
        return 0
    return _report_finished(client.wait(created.id, seen=created.status, on_change=_say_status))


def _options_problem(command: str, exc: Exception) -> int:
    """A request the API would refuse, said per option before anything is uploaded."""
    from pydantic import ValidationError

    assert isinstance(exc, ValidationError)
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        print(f"afs image {command}: --{field.replace('_', '-')}: {message}", file=sys.stderr)
    return 2


def _register(args: argparse.Namespace, client: FactoryClient) -> int:
    import json

    from pydantic import ValidationError

    from afs.models import RegisterFpgaImageRequest

    try:
        metadata = json.loads(args.metadata)
    except json.JSONDecodeError as exc:
        print(f"afs image register: --metadata: not JSON ({exc})", file=sys.stderr)
        return 2
    try:
        request = RegisterFpgaImageRequest(
            location=args.location,
            name=args.name,
            metadata=metadata,
            description=args.description,
        )
    except ValidationError as exc:
        return _options_problem("register", exc)
    if args.file is not None:
        if not args.file.is_file():
            print(
                f"afs image register: --file {args.file.absolute()}: no such file", file=sys.stderr
            )
            return 2
        _upload(client, args.file, request.location)
    registered = client.register(request)
    print(f"image {registered.id}: {registered.status.value}", flush=True)
    if not args.wait:
        return 0
    return _report_finished(
        client.wait(registered.id, seen=registered.status, on_change=_say_status)
    )


def _add_image_id(xclbin: Path, image_id: str) -> None:
    """As the kit's AEI_Register.sh after a create: the id into the xclbin, for the runtime."""
    from afs.inputs.bitstream import BitstreamError, add_image_id

    try:
        add_image_id(xclbin, image_id)
    except (BitstreamError, OSError) as exc:  # the file changed since it was checked
        print(f"afs image create: --xclbin: {exc}", file=sys.stderr)
        print(
            f"afs image create: then: afs xclbin add-image-id {xclbin} {image_id}", file=sys.stderr
        )
        return
    print(f"{xclbin}: image id written where the FP1 runtime reads it", flush=True)


def _list(args: argparse.Namespace, client: FactoryClient) -> int:
    listed = client.list(page=args.page, size=args.size)
    columns = "{:<32}  {:<24}  {:<10}  {:>6}  {}"
    print(columns.format("ID", "NAME", "STATUS", "MB", "CREATED (UTC)"))
    for item in listed.fpgaimages:
        print(columns.format(item.id, item.name, item.status.value, item.size, item.createdAt))
    print(f"{listed.count} image(s)")
    return 0


def _show(args: argparse.Namespace, client: FactoryClient) -> int:
    print(client.show(args.image_id).model_dump_json(indent=2))
    return 0


def _delete(args: argparse.Namespace, client: FactoryClient) -> int:
    client.delete(args.image_id)
    print(f"image {args.image_id}: deleting")
    return 0


def _wait(args: argparse.Namespace, client: FactoryClient) -> int:
    item = client.wait(args.image_id, on_change=_say_status, timeout=args.timeout)
    return _report_finished(item)


def _logs(args: argparse.Namespace, client: FactoryClient) -> int:
    tarball = client.logs(args.image_id, args.output)
    print(f"downloaded {tarball.location} to {tarball.path}")
    for member in tarball.members:
        print(f"{member.size:>10}  {member.name}")
    return 0


def _run(args: argparse.Namespace) -> int:
    """Load the configuration, run the command, and turn every refusal into one stderr line."""
    from afs.client import ApiError, ApiUnreachable, FactoryClient, NoLogTarball, WaitTimedOut
    from afs.client.config import ClientConfigError, load_client_config
    from afs.errors import StorageError

    where = f"afs image {args.image_command}"
    try:
        config = load_client_config()
    except ClientConfigError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 2
    try:
        with FactoryClient(config) as client:
            code: int = args.handler(args, client)
            return code
    except ClientConfigError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 2
    except (ApiError, ApiUnreachable, NoLogTarball, StorageError, WaitTimedOut, OSError) as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return 1


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `image create|register|list|show|delete|wait|logs` to the `afs` command's
    subcommands."""
    image = commands.add_parser(
        "image",
        help="create, list, show, delete, wait for FPGA images, fetch their logs (HTTP API)",
        description="FPGA images through the factory's HTTP API. " + _CONFIGURATION,
    )
    image_commands = image.add_subparsers(dest="image_command", required=True)

    create = image_commands.add_parser(
        "create", help="upload a DCP tarball (optional) and ask for an image"
    )
    create.add_argument("--dcp-file", type=Path, help="local tarball to upload to --dcp-location")
    create.add_argument("--dcp-location", required=True, help="bucket:key of the tarball")
    create.add_argument("--name", required=True)
    create.add_argument("--log-directory", help="directory in the bucket for the log tarball")
    create.add_argument("--description")
    create.add_argument(
        "--xclbin",
        type=Path,
        help="the sdaccel flow's .xclbin: once the image is created, write its id into it "
        "where the FP1 runtime reads it (as the kit's AEI_Register.sh does)",
    )
    create.add_argument("--wait", action="store_true", help="follow it to active or error")
    create.set_defaults(handler=_create)

    registration = image_commands.add_parser(
        "register",
        help="upload a finished bitstream (optional) and register it as an image (legacy v1)",
        description="The legacy register (POST /v1/{project_id}/cloudservers/fpga_image): a "
        ".bin, or an .xclbin holding a bitstream, is saved as an image without a build.",
    )
    registration.add_argument("--file", type=Path, help="local file to upload to --location")
    registration.add_argument("--location", required=True, help="bucket:key of the .bin or .xclbin")
    registration.add_argument("--name", required=True)
    registration.add_argument(
        "--metadata", required=True, help="a JSON object of at most 1024 characters"
    )
    registration.add_argument("--description")
    registration.add_argument("--wait", action="store_true", help="follow it to active or error")
    registration.set_defaults(handler=_register)

    listing = image_commands.add_parser("list", help="the project's images, newest first")
    listing.add_argument("--page", type=int)
    listing.add_argument("--size", type=int)
    listing.set_defaults(handler=_list)

    show = image_commands.add_parser("show", help="one image as JSON")
    show.add_argument("image_id")
    show.set_defaults(handler=_show)

    delete = image_commands.add_parser("delete", help="delete an active or failed image")
    delete.add_argument("image_id")
    delete.set_defaults(handler=_delete)

    wait = image_commands.add_parser(
        "wait", help="print each status until active or error, then where the logs are"
    )
    wait.add_argument("image_id")
    wait.add_argument("--timeout", type=float, default=4 * 3600, help="seconds")
    wait.set_defaults(handler=_wait)

    logs = image_commands.add_parser("logs", help="download the log tarball and list it")
    logs.add_argument("image_id")
    logs.add_argument("-o", "--output", type=Path, default=Path(), help="directory")
    logs.set_defaults(handler=_logs)

    image.set_defaults(run=_run)

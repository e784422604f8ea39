"""The `afs` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from afs.api.commands import register as register_api_commands
from afs.client.commands import register as register_client_commands


def _demo(args: argparse.Namespace) -> int:
    from afs.devstack.demo import run_demo
    from afs.status import ImageStatus

    tarball = args.tarball.resolve() if args.tarball else None
    if tarball is not None and not tarball.is_file():
        print(f"afs demo: --tarball {tarball}: no such file", file=sys.stderr)
        return 2
    images = run_demo(args.home.resolve(), tarball=tarball)
    return 0 if all(image.status is ImageStatus.ACTIVE for image in images) else 1


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _up(args: argparse.Namespace) -> int:
    from afs.devstack.up import run_up

    run_up(args.home.resolve())
    return 0


def _worker(args: argparse.Namespace) -> int:
    import asyncio

    from prefect.settings import PREFECT_API_URL

    from afs.catalog import default_catalog
    from afs.orchestration.doctor import configuration_checks
    from afs.orchestration.worker import host_plans, serve_host
    from afs.settings import server_settings

    settings = server_settings()
    default_catalog()  # refuses a catalog at another schema revision before any build
    failing = [check for check in configuration_checks(settings) if not check.ok]
    for check in failing:
        print(f"afs worker: {check.name}: {check.detail}", file=sys.stderr)
    if failing:
        print("afs worker: not taking builds until the configuration is fixed", file=sys.stderr)
        return 2
    plans = host_plans(settings, args.limit, maintenance=args.maintenance)
    if not plans[0].queues:
        print(
            f"afs worker: this host has Vivado for none of the factory's tool versions "
            f"({', '.join(settings.tool_versions)}); set AFS_VIVADO_BINARIES",
            file=sys.stderr,
        )
        return 2

    def say(text: str) -> None:
        print(f"afs worker: {text}", flush=True)

    for plan in plans:
        queues = ", ".join(plan.queues) if plan.queues else "all queues"
        say(f"{plan.name}: pool {plan.pool} ({queues}), at most {plan.limit} run(s) at once")
    say(f"Prefect API {PREFECT_API_URL.value()}; SIGTERM or Ctrl-C drains (runs in flight finish)")
    grace = settings.vivado_term_grace_seconds + 30
    health = (args.healthcheck_host, args.healthcheck_port) if args.with_healthcheck else None
    asyncio.run(serve_host(plans, settings.drain_timeout_seconds, grace, say, health))
    return 0


def _deploy(args: argparse.Namespace) -> int:
    from prefect.settings import PREFECT_API_URL

    from afs.deployments import deploy_factory
    from afs.settings import server_settings

    settings = server_settings()
    names = deploy_factory(settings)
    print(f"deployed to {PREFECT_API_URL.value()}:")
    for name in names:
        print(f"  {name}")
    print(
        f"work pools {settings.build_pool} (queues per tool version) and "
        f"{settings.maintenance_pool}; {settings.vivado_licences} Vivado licence(s)"
    )
    return 0


def _dispatcher(args: argparse.Namespace) -> int:
    from afs.catalog import default_catalog
    from afs.deployments import (
        CREATE_DEPLOYMENT_PATH,
        DELETE_DEPLOYMENT_PATH,
        REGISTER_DEPLOYMENT_PATH,
    )
    from afs.orchestration.dispatch import start_dispatcher
    from afs.settings import server_settings

    server_settings()
    default_catalog()  # refuses a catalog at another schema revision
    dispatcher, stop = start_dispatcher(
        CREATE_DEPLOYMENT_PATH, REGISTER_DEPLOYMENT_PATH, DELETE_DEPLOYMENT_PATH, args.interval
    )
    while dispatcher.is_alive():
        dispatcher.join(timeout=1)
        if args.parent_pid is not None and os.getppid() != args.parent_pid:
            stop.set()  # the parent died without stopping this process (SIGKILL, a crash)
    return 0


def _pack(args: argparse.Namespace) -> int:
    from afs.inputs.archive import PackError, pack
    from afs.inputs.bitstream import XCLBIN_SUFFIX
    from afs.settings import get_settings

    kit_flows = get_settings().kit_flows
    flow_type = "sdaccel" if args.source.name.lower().endswith(XCLBIN_SUFFIX) else "vivado"
    pairing = next((flow for flow in kit_flows if flow.flow_type == flow_type), None)
    shell_id = args.shell_id or (pairing.shell_id if pairing else None)
    tool_version = args.tool_version or (pairing.tool_version if pairing else None)
    if shell_id is None or tool_version is None:
        print(f"afs pack: the factory builds no {flow_type} flow (AFS_KIT_FLOWS)", file=sys.stderr)
        return 2
    try:
        manifest = pack(
            args.source,
            args.output,
            shell_id=shell_id,
            tool_version=tool_version,
            kit_flows=kit_flows,
        )
    except PackError as exc:
        print(f"afs pack: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(manifest.model_dump(), indent=2))
    return 0


def _bitstream_info(args: argparse.Namespace) -> int:
    from afs.inputs.bitstream import BitstreamError, describe

    try:
        info = describe(args.path.absolute())
    except BitstreamError as exc:
        print(f"afs bitstream info: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(info.model_dump(), indent=2))
    return 0


def _xclbin_add_image_id(args: argparse.Namespace) -> int:
    from afs.inputs.bitstream import BitstreamError, add_image_id

    try:
        add_image_id(args.xclbin.absolute(), args.image_id)
    except BitstreamError as exc:
        print(f"afs xclbin add-image-id: {exc}", file=sys.stderr)
        return 2
    print(f"{args.xclbin}: image {args.image_id} written where the FP1 runtime reads it")
    return 0


def _dcp_info(args: argparse.Namespace) -> int:
    from afs.inputs.dcp import DcpError, local_dcp, read_dcp

    try:
        path = local_dcp(args.path.absolute())
    except DcpError as exc:
        print(f"afs dcp info: {exc}", file=sys.stderr)
        return 2
    try:
        info = read_dcp(path)
    except DcpError as exc:
        print(f"afs dcp info: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info.model_dump(), indent=2))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from afs.devstack import samples

    try:
        if args.what == "shell":
            samples.write_sample_shell_dcp(args.output, args.shell_id)
        elif args.what == "module":
            samples.write_sample_module_dcp(args.output)
        elif args.what == "xclbin":
            samples.write_sample_xclbin(args.output)
        elif args.what == "bitstream":
            args.output.write_bytes(samples.sample_partial_bitstream())
        else:
            args.output.write_text(samples.sample_pblock_xdc())
    except OSError as exc:
        reason = exc.strerror or exc
        print(f"afs sample {args.what}: cannot write {args.output}: {reason}", file=sys.stderr)
        return 2
    print(args.output)
    return 0


def _vivado_log(args: argparse.Namespace) -> int:
    from afs.build.vivado.logparse import summarize_log

    try:
        summary = summarize_log(args.path)
    except OSError as exc:
        print(f"afs vivado-log: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.model_dump(), indent=2))
    return 0


def _config(args: argparse.Namespace) -> int:
    from afs.settings import effective_settings, load_settings, settings_reference

    if args.reference:
        print(settings_reference(), end="")
        return 0
    settings = load_settings()
    width = max(len(setting.variable) for setting in effective_settings(settings))
    for setting in effective_settings(settings):
        print(f"{setting.variable:<{width}}  {setting.source:<11}  {setting.value}")
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from afs.orchestration.doctor import all_checks
    from afs.settings import get_settings

    checks = all_checks(get_settings())
    for check in checks:
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if all(check.ok for check in checks) else 1


def _db_current(args: argparse.Namespace) -> int:
    from afs.catalog import Catalog
    from afs.catalog.migrate import catalog_revision

    revision = catalog_revision(Catalog.from_settings())
    print(f"the catalog is {revision.describe()}")
    return 0 if revision.up_to_date else 1


def _db_upgrade(args: argparse.Namespace) -> int:
    from afs.catalog import Catalog
    from afs.catalog.migrate import upgrade

    before, after = upgrade(Catalog.from_settings())
    if before.current == after.current:
        print(f"the catalog was already at revision {after.current} (the latest)")
    else:
        was = before.current or ("empty" if not before.has_tables else "made before migrations")
        print(f"the catalog is now at revision {after.current} (the latest); it was {was}")
    return 0


class _PrintVersion(argparse.Action):
    """`--version`, worked out only when asked (a checkout asks git)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from afs.version import build_commit, release

        print(f"afs {release()} (commit {build_commit() or 'not recorded'})")
        parser.exit(0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="afs", description="FPGA image factory")
    parser.add_argument(
        "--version", nargs=0, action=_PrintVersion, help="print the version and commit, and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    register_api_commands(commands)
    register_client_commands(commands)

    demo = commands.add_parser("demo", help="build one sample image on the embedded stack")
    demo.add_argument("--home", type=Path, default=Path(".afs-demo"), help="wiped and reused")
    demo.add_argument(
        "--tarball", type=Path, default=None, help="build this DCP tarball instead of the sample"
    )
    demo.set_defaults(run=_demo)

    up = commands.add_parser(
        "up", help="run the embedded stack until Ctrl-C, keeping its state in --home"
    )
    up.add_argument(
        "--home", type=Path, default=Path(".afs-up"), help="kept across restarts (default .afs-up)"
    )
    up.set_defaults(run=_up)

    deploy = commands.add_parser(
        "deploy", help="create or update the work pools, deployments and limits on Prefect"
    )
    deploy.set_defaults(run=_deploy)

    worker = commands.add_parser(
        "worker", help="run this build host's Prefect workers (builds and maintenance)"
    )
    worker.add_argument(
        "--limit", type=_at_least_one, default=1, help="builds at once on this host (default 1)"
    )
    worker.add_argument(
        "--no-maintenance",
        dest="maintenance",
        action="store_false",
        help="take no reconcile, reprocess or delete runs on this host",
    )
    worker.add_argument(
        "--with-healthcheck",
        action="store_true",
        help="answer GET /health (200 while every worker polls or drains, else 503), as "
        "Prefect's own workers do, for service managers",
    )
    worker.add_argument(
        "--healthcheck-host", default="127.0.0.1", help="address of the health check"
    )
    worker.add_argument(
        "--healthcheck-port", type=int, default=8080, help="port of the health check (8080)"
    )
    worker.set_defaults(run=_worker)

    dispatcher = commands.add_parser("dispatcher", help="turn initialing images into flow runs")
    dispatcher.add_argument("--interval", type=float, default=1.0)
    dispatcher.add_argument(
        "--parent-pid", type=int, default=None, help="stop when this parent process ends"
    )
    dispatcher.set_defaults(run=_dispatcher)

    pack = commands.add_parser(
        "pack",
        help="build a tenant DCP tarball with its manifest, as the kit's AEI_Register.sh does",
        description="A routed .dcp is the vivado flow's upload; an .xclbin is the sdaccel "
        "flow's: its checkpoint is split out as xclbinsplit does and packed as "
        "split-primary.dcp with the xclbin's timestamp and clocks. The shell id and tool "
        "version default to the flow's pairing in the factory's settings.",
    )
    pack.add_argument("source", type=Path, help="the routed .dcp, or the .xclbin")
    pack.add_argument("--shell-id")
    pack.add_argument("--tool-version")
    pack.add_argument("-o", "--output", type=Path, required=True)
    pack.set_defaults(run=_pack)

    bitstream = commands.add_parser("bitstream", help="Xilinx bitstream tools")
    bitstream_commands = bitstream.add_subparsers(dest="bitstream_command", required=True)
    bitstream_info = bitstream_commands.add_parser(
        "info",
        help="print kind, part, design, tool version, partial, data bytes, sha256 as JSON",
        description="Reads a .bit file's header, or the bitstream in an .xclbin.",
    )
    bitstream_info.add_argument("path", type=Path)
    bitstream_info.set_defaults(run=_bitstream_info)

    xclbin = commands.add_parser("xclbin", help="SDAccel xclbin tools")
    xclbin_commands = xclbin.add_subparsers(dest="xclbin_command", required=True)
    add_id = xclbin_commands.add_parser(
        "add-image-id",
        help="write an image id into an xclbin where the FP1 runtime reads it (xclbinaddaei.py)",
    )
    add_id.add_argument("xclbin", type=Path)
    add_id.add_argument("image_id")
    add_id.set_defaults(run=_xclbin_add_image_id)

    dcp = commands.add_parser("dcp", help="design checkpoint tools")
    dcp_commands = dcp.add_subparsers(dest="dcp_command", required=True)
    info = dcp_commands.add_parser("info", help="print part, product, top, version as JSON")
    info.add_argument("path", type=Path)
    info.set_defaults(run=_dcp_info)

    sample = commands.add_parser(
        "sample",
        help="write an emulator sample (test/demo fixtures, not FP1 files) to build against",
        description="Samples for running the FP1 kit's tenant flow through afs-vivado-emulator. "
        "They are what the embedded stack uses; none is a real Huawei FP1 file.",
    )
    sample_commands = sample.add_subparsers(dest="what", required=True)
    shell = sample_commands.add_parser(
        "shell", help="the static checkpoint of a shell id (the kit's SH_UL_BB_routed.dcp)"
    )
    shell.add_argument("shell_id", help="e.g. 0x01010029")
    module = sample_commands.add_parser(
        "module", help="a user module synthesized out of context (the kit's <prj>_post_synth.dcp)"
    )
    pblock = sample_commands.add_parser(
        "pblock-xdc", help="the partition constraints (the kit's pr_pblock.xdc)"
    )
    sample_xclbin = sample_commands.add_parser(
        "xclbin",
        help="an SDAccel xclbin whose BITSTREAM section is a checkpoint routed on shell "
        "0x01210101 (xocc with acceleratorBinaryContent=dcp)",
    )
    sample_bit = sample_commands.add_parser(
        "bitstream", help="a partial bitstream for the VU9P (.bit, with its header)"
    )
    for command in (shell, module, pblock, sample_xclbin, sample_bit):
        command.add_argument("-o", "--output", type=Path, required=True)
        command.set_defaults(run=_sample)

    vivado_log = commands.add_parser("vivado-log", help="summarize a Vivado log as JSON")
    vivado_log.add_argument("path", type=Path)
    vivado_log.set_defaults(run=_vivado_log)

    config = commands.add_parser(
        "config",
        help="print the settings this process runs with, each with its source (secrets masked)",
    )
    config.add_argument(
        "--reference",
        action="store_true",
        help="print every setting with its default as Markdown (docs/settings.md)",
    )
    config.set_defaults(run=_config)

    doctor = commands.add_parser("doctor", help="check this build host")
    doctor.set_defaults(run=_doctor)

    database = commands.add_parser("db", help="the catalog's schema revision")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser(
        "current", help="say which revision the catalog (AFS_CATALOG_URL) is at"
    ).set_defaults(run=_db_current)
    database_commands.add_parser(
        "upgrade", help="bring the catalog to this release's revision (safe to run again)"
    ).set_defaults(run=_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from afs.errors import ConfigurationError

    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except ConfigurationError as exc:
        # The operator's to fix (a setting, the catalog's revision): said plainly, exit 2.
        for problem in getattr(exc, "problems", [str(exc)]):
            print(f"afs {args.command}: {problem}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())

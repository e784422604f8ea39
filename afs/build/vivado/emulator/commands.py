"""The Vivado commands the emulator defines: option checking, design state, and their effects.

Each command checks its options the way Vivado does (unknown option, missing value, too many
positional arguments) and its inputs (an open design, known cells and pblocks, readable
checkpoints). Big commands frame their output as Vivado does: `Command: ...`, the message counts,
`<cmd> completed successfully` or `<cmd> failed`, and a time/memory line.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import json
import os
import re
import resource
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO, TypeVar

from afs.build.vivado.emulator import EMULATED_VIVADO_VERSION, EMULATOR_NAME, IDENTITY
from afs.build.vivado.emulator.bitstream import emulated_bitstream, write_bitstream_files
from afs.build.vivado.emulator.checkpoints import (
    Cell,
    Checkpoint,
    CheckpointError,
    DesignContent,
    Pblock,
    load_checkpoint,
    write_checkpoint_file,
)
from afs.build.vivado.emulator.console import Console
from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV, FAULT_ID, Fault, FaultError
from afs.build.vivado.logparse import PR_VERIFY_COMPATIBLE_ID, PR_VERIFY_INCOMPATIBLE_ID

Result = str | tuple[str, ...]

# VU9P resources, for the utilization reports.
_VU9P_RESOURCES = {
    "CLB LUTs": 1182240,
    "CLB Registers": 2364480,
    "Block RAM Tile": 2160,
    "DSPs": 6840,
}
# The parameters the flows use, with their valid values; any other is refused as Vivado does.
_PARAMS = {"general.maxThreads": range(1, 33), "bitstream.enablePR": range(0, 1 << 16)}
_READ_ONLY = frozenset({"NAME", "CLASS", "PART", "TOP", "REF_NAME", "IS_BLACKBOX"})
_SETTABLE = {
    "design": frozenset({"BITSTREAM.GENERAL.COMPRESS"}),
    "cell": frozenset({"HD.RECONFIGURABLE"}),
    "pblock": frozenset(
        {"RESET_AFTER_RECONFIG", "SNAPPING_MODE", "CONTAIN_ROUTING", "EXCLUDE_PLACEMENT"}
    ),
}
# UG835's directives of each implementation command.
_DIRECTIVES = {
    "opt_design": {
        "Default",
        "Explore",
        "ExploreArea",
        "ExploreSequentialArea",
        "ExploreWithRemap",
        "AddRemap",
        "NoBramPowerOpt",
        "RuntimeOptimized",
    },
    "power_opt_design": {"Default"},
    "place_design": {
        "Default",
        "Explore",
        "WLDrivenBlockPlacement",
        "EarlyBlockPlacement",
        "ExtraNetDelay_high",
        "ExtraNetDelay_low",
        "AltSpreadLogic_high",
        "AltSpreadLogic_medium",
        "AltSpreadLogic_low",
        "ExtraPostPlacementOpt",
        "ExtraTimingOpt",
        "SSI_SpreadLogic_high",
        "SSI_SpreadLogic_low",
        "SSI_SpreadSLLs",
        "SSI_BalanceSLLs",
        "SSI_BalanceSLRs",
        "SSI_HighUtilSLRs",
        "RuntimeOptimized",
        "Quick",
    },
    "phys_opt_design": {
        "Default",
        "Explore",
        "ExploreWithHoldFix",
        "AggressiveExplore",
        "AlternateReplication",
        "AggressiveFanoutOpt",
        "AlternateDelayModeling",
        "AddRetime",
        "AlternateFlowWithRetiming",
        "RuntimeOptimized",
    },
    "route_design": {
        "Default",
        "Explore",
        "AggressiveExplore",
        "NoTimingRelaxation",
        "MoreGlobalIterations",
        "HigherDelayCost",
        "AdvancedSkewModeling",
        "AlternateCLBRouting",
        "RuntimeOptimized",
        "Quick",
    },
}
_MESSAGE = re.compile(r"^ERROR: \[([^\]]+)\] (.*)$", re.S)
_SITE_RANGE = re.compile(r"^[A-Z][A-Z0-9_]*_X\d+Y\d+(:[A-Z][A-Z0-9_]*_X\d+Y\d+)?$")
_COMMON_FLAGS = frozenset({"-quiet", "-verbose"})
_NO_DESIGN = (
    "User Exception: No open design. Please open an elaborated, synthesized or implemented "
    "design before executing this command."
)


class CommandError(Exception):
    """A command failed: printed as `ERROR: [msg_id] text`, returned to Tcl as an error."""

    def __init__(self, msg_id: str, text: str) -> None:
        super().__init__(text)
        self.msg_id = msg_id
        self.text = text


@dataclass(frozen=True)
class Spec:
    flags: frozenset[str] = frozenset()
    values: frozenset[str] = frozenset()  # options that take one value
    required: tuple[str, ...] = ()  # positional arguments, in order
    optional: tuple[str, ...] = ()  # further positional arguments
    big: bool = False  # framed by `Command:` ... `completed successfully` / `failed`


@dataclass
class Args:
    flags: set[str]
    values: dict[str, str]
    positionals: dict[str, str]


def parse_args(name: str, spec: Spec, argv: tuple[str, ...]) -> Args:
    help_hint = f"please type '{name} -help' for usage info."
    args = Args(flags=set(), values={}, positionals={})
    words: list[str] = []
    index = 0
    while index < len(argv):
        word = argv[index]
        index += 1
        if not word.startswith("-") or word[1:2].isdigit() or word == "-":
            words.append(word)
        elif word in spec.flags or word in _COMMON_FLAGS:
            args.flags.add(word)
        elif word in spec.values:
            if index == len(argv):
                raise CommandError(
                    "Common 17-163", f"Missing value for option '{word[1:]}', {help_hint}"
                )
            args.values[word] = argv[index]
            index += 1
        else:
            raise CommandError("Common 17-170", f"Unknown option '{word}', {help_hint}")
    names = spec.required + spec.optional
    if len(words) > len(names):
        raise CommandError(
            "Common 17-165",
            f"Too many positional options when parsing '{words[len(names)]}', {help_hint}",
        )
    if len(words) < len(spec.required):
        missing = spec.required[len(words)]
        raise CommandError("Common 17-163", f"Missing value for option '{missing}', {help_hint}")
    args.positionals = dict(zip(names, words, strict=False))
    return args


def usage(name: str, spec: Spec) -> str:
    options = [f"[{flag}]" for flag in sorted(spec.flags | _COMMON_FLAGS)]
    options += [f"[{option} <arg>]" for option in sorted(spec.values)]
    options += [f"<{word}>" for word in spec.required] + [f"[<{word}>]" for word in spec.optional]
    return f"Usage: {name} " + " ".join(options)


_COMMANDS: dict[str, tuple[Spec, Callable[[Session, Args], Result]]] = {}


_Handler = TypeVar("_Handler", bound="Callable[[Session, Args], Result]")


def _command(spec: Spec) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        _COMMANDS[handler.__name__] = (spec, handler)
        return handler

    return register


def command_names() -> list[str]:
    return sorted(_COMMANDS)


@dataclass
class Design:
    """The open design: the checkpoint's content as commands change it."""

    content: DesignContent
    part: str
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.content.top

    @property
    def seed(self) -> str:
        return self.content.seed

    def filled(self, cell: str) -> Cell | None:
        """The cell, if it holds a module (not a black box)."""
        found = self.content.cells.get(cell)
        return None if found is None or found.black_box else found

    def black_boxes(self) -> list[str]:
        return sorted(name for name, cell in self.content.cells.items() if cell.black_box)

    def advance(self, stage: str) -> None:
        if not self.content.is_at_least(stage):
            self.content.stage = stage


def _digits(seed: str, modulo: int) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % modulo


def _delay_type(args: Args) -> str:
    delay_type = args.values.get("-delay_type", "max")
    if delay_type not in ("min", "max", "min_max"):
        raise CommandError(
            "Common 17-161", f"Invalid option value '{delay_type}' specified for 'delay_type'."
        )
    return delay_type


def _directive(name: str, args: Args) -> str:
    directive = args.values.get("-directive", "Default")
    if directive not in _DIRECTIVES[name]:
        raise CommandError(
            "Common 17-161", f"Invalid option value '{directive}' specified for 'directive'."
        )
    return directive


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _bool_value(name: str, value: str) -> bool:
    if value.upper() in ("TRUE", "1"):
        return True
    if value.upper() in ("FALSE", "0"):
        return False
    raise CommandError("Common 17-161", f"Invalid value '{value}' for property '{name}'.")


class Session:
    """One emulated Vivado session: the open design, parameters, objects, and the fault if any."""

    def __init__(
        self,
        console: Console,
        journal: TextIO | None,
        *,
        trace: bool,
        splitlist: Callable[[str], tuple[str, ...]],
        source_xdc: Callable[[str], tuple[str, ...]] | None = None,
    ) -> None:
        self.console = console
        self.journal = journal
        self.trace = trace
        self.splitlist = splitlist
        # Evaluates an XDC file command by command in the interpreter; returns its failures.
        self.source_xdc = source_xdc
        self.design: Design | None = None
        self.fault: Fault | None = None
        self.params: dict[str, str] = {}
        self.timing_paths: dict[str, dict[str, str]] = {}
        self.last_error: str | None = None
        self.constraints_file: str | None = None  # the XDC file read_xdc is evaluating

    # -- dispatch ------------------------------------------------------------------------------

    def dispatch(self, call_line: str, name: str, *argv: str) -> tuple[str, Result]:
        """Run one command for the Tcl wrapper proc: ("ok", result) or ("error", message)."""
        spec, handler = _COMMANDS[name]
        if self.journal is not None:
            self.journal.write(call_line + "\n")
            self.journal.flush()
        if self.trace:
            self.console.line(f"# {call_line}")
        quiet = "-quiet" in argv
        # Inside read_xdc a failing constraint is read_xdc's critical warning, not an ERROR.
        self.console.muted = quiet or self.constraints_file is not None
        try:
            if "-help" in argv:
                self.console.line(usage(name, spec))
                return ("ok", "")
            args = parse_args(name, spec, argv)
            if spec.big:
                with self._framed(name, call_line):
                    return ("ok", handler(self, args))
            return ("ok", handler(self, args))
        except CommandError as exc:
            if quiet:
                return ("ok", "")
            self.last_error = self.console.error(exc.msg_id, exc.text)
            return ("error", self.last_error)
        except Exception as exc:  # an emulator bug: tkinter would turn it into an empty error
            self.last_error = self.console.error("Emulator 99-9", f"{name}: internal error {exc!r}")
            return ("error", self.last_error)
        finally:
            self.console.muted = False

    @contextmanager
    def _framed(self, name: str, call_line: str) -> Iterator[None]:
        console = self.console
        console.line(f"Command: {call_line}")
        wall, cpu = time.monotonic(), time.process_time()
        try:
            yield
        except CommandError as exc:
            console.error(exc.msg_id, exc.text)
            console.line(console.summary_line())
            console.line(f"{name} failed")
            raise CommandError("Common 17-69", f"Command failed: {exc.text}") from exc
        console.line(console.summary_line())
        console.line(f"{name} completed successfully")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        console.line(
            f"{name}: Time (s): cpu = {_hms(time.process_time() - cpu)} ; "
            f"elapsed = {_hms(time.monotonic() - wall)} . "
            f"Memory (MB): peak = {peak:.3f} ; gain = 0.000"
        )

    # -- helpers -------------------------------------------------------------------------------

    def _open_design(self) -> Design:
        if self.design is None:
            raise CommandError("Common 17-53", _NO_DESIGN)
        return self.design

    def _load(self, path: str) -> Checkpoint:
        try:
            checkpoint = load_checkpoint(Path(path))
        except CheckpointError as exc:
            raise CommandError("Project 1-64", f"Unable to open checkpoint: {exc}") from exc
        if checkpoint.fault is not None and os.environ.get(EMULATOR_FAULTS_ENV) != "1":
            self.console.info(FAULT_ID, f"Fault member ignored: {EMULATOR_FAULTS_ENV} is not 1")
        elif checkpoint.fault is not None and self.fault is None:
            try:
                self.fault = Fault.parse(checkpoint.fault)
            except FaultError as exc:
                raise CommandError("Emulator 99-2", str(exc)) from exc
            self.fault.on_load(self.console)
        return checkpoint

    def _fault_is(self, kind: str) -> bool:
        return self.fault is not None and self.fault.kind == kind

    def _reconfigurable_cell(self, design: Design, cell: str) -> str:
        if cell not in design.content.reconfigurable:
            raise CommandError(
                "Vivado 12-3230",
                f"Cell '{cell}' is not a reconfigurable partition of design '{design.name}'",
            )
        return cell

    def _pblock(self, design: Design, value: str) -> str:
        names = self.splitlist(value)
        if len(names) != 1 or names[0] not in design.content.pblocks:
            raise CommandError("Common 17-161", f"Invalid object '{value}': no such pblock")
        return names[0]

    def _cells(self, design: Design, value: str) -> list[str]:
        names = list(self.splitlist(value))
        unknown = [name for name in names if name not in design.content.cells]
        if unknown or not names:
            raise CommandError("Common 17-161", f"Invalid object '{value}': no such cell")
        return names

    def _writable(self, path: Path, args: Args) -> Path:
        if path.exists() and "-force" not in args.flags:
            raise CommandError(
                "Common 17-349", f"File '{path}' already exists; use -force to overwrite it"
            )
        return path

    def _report(self, name: str, design: Design, args: Args, body: list[str]) -> Result:
        """Write, return or print a report, per -file / -append / -return_string."""
        header = [
            "-" * 88,
            f"| Tool Version : {IDENTITY}",
            f"| Date         : {datetime.now().ctime()}",
            f"| Host         : {socket.gethostname()}",
            f"| Command      : {name}",
            f"| Design       : {design.name}",
            f"| Device       : {design.part}",
            "-" * 88,
            "",
        ]
        text = "\n".join(header + body) + "\n"
        if "-return_string" in args.flags:
            return text
        target = args.values.get("-file")
        if target is None:
            self.console.write(text)
            return ""
        path = Path(target)
        mode = "a" if "-append" in args.flags else "w"
        try:
            with path.open(mode, encoding="utf-8") as report:
                report.write(text)
        except OSError as exc:
            raise CommandError("Common 17-210", f"Cannot write report '{path}': {exc}") from exc
        self.console.info("Common 17-1381", f"The report is in file '{path}'")
        return ""

    def _slacks(self, design: Design) -> tuple[float, float]:
        """Worst setup and hold slack (ns): deterministic per design, negative on the fault."""
        setup = 0.05 + _digits(design.seed + "setup", 400) / 1000
        if self._fault_is("timing_violation"):
            setup = -0.123
        return setup, 0.01 + _digits(design.seed + "hold", 40) / 1000

    def _objects(self, value: str) -> list[tuple[str, dict[str, str]]]:
        """The named objects in a Tcl list, each with its properties."""
        names = self.splitlist(value)
        if not names:
            raise CommandError("Common 17-55", "'objects' expects at least one object.")
        return [(name, self._properties(name)) for name in names]

    def _properties(self, name: str) -> dict[str, str]:
        if name in self.timing_paths:
            return self.timing_paths[name]
        design = self._open_design()
        content = design.content
        if name == design.name:
            return {
                "CLASS": "design",
                "NAME": design.name,
                "PART": design.part,
                "TOP": design.name,
                **design.properties,
            }
        if name in content.cells:
            cell = content.cells[name]
            return {
                "CLASS": "cell",
                "NAME": name,
                "REF_NAME": cell.ref,
                "HD.RECONFIGURABLE": str(int(cell.reconfigurable)),
                "IS_BLACKBOX": str(int(cell.black_box)),
                "PBLOCK": cell.pblock or "",
            }
        if name in content.pblocks:
            return {"CLASS": "pblock", "NAME": name, **content.pblocks[name].properties}
        raise CommandError("Common 17-161", f"Invalid object '{name}': no such object")

    def _implementation_step(self, name: str, args: Args, *, needs: str, reaches: str) -> Result:
        """opt/place/phys_opt/route: check the directive and the design's stage, then advance."""
        design = self._open_design()
        directive = _directive(name, args)
        if design.black_boxes() and name in ("opt_design", "place_design"):
            for cell in design.black_boxes():
                self.console.error(
                    "DRC INBB-3",
                    f"Black Box Instances: Cell '{cell}' of type '{design.content.cells[cell].ref}'"
                    " has undefined contents and is considered a black box. The contents of this"
                    " cell must be defined for opt_design to complete successfully.",
                )
            raise CommandError("Vivado_Tcl 4-78", "Error(s) found during DRC. Opt_design not run.")
        if not design.content.is_at_least(needs):
            raise CommandError(
                "Emulator 99-6",
                f"{name} needs a {needs} design; design '{design.name}' is {design.content.stage}",
            )
        self.console.info("Vivado_Tcl 4-136", f"Directive used for {name} is: {directive}")
        design.advance(reaches)
        self.timing_paths.clear()
        return ""

    # -- opening, reading and writing designs --------------------------------------------------

    @_command(Spec(values=frozenset({"-part"}), required=("file",), big=True))
    def open_checkpoint(self, args: Args) -> Result:
        checkpoint = self._load(args.positionals["file"])
        info = checkpoint.info
        part = args.values.get("-part", info.part)
        console = self.console
        console.info("Device 21-403", f"Loading part {part}")
        console.info("Project 1-479", f"Netlist was created with {info.product or 'unknown'}")
        console.line("Reading XDEF placement.")
        console.line("Reading XDEF routing.")
        for cell, pblock in sorted(checkpoint.content.reconfigurable.items()):
            console.info(
                "Project 1-1013", f"Reconfigurable partition '{cell}' in pblock '{pblock}'"
            )
        console.info("Project 1-604", f"Checkpoint was restored from {checkpoint.path}")
        self.design = Design(content=copy.deepcopy(checkpoint.content), part=part)
        self.timing_paths.clear()
        return self.design.name

    @_command(
        Spec(
            flags=frozenset({"-strict"}), values=frozenset({"-cell"}), required=("file",), big=True
        )
    )
    def read_checkpoint(self, args: Args) -> Result:
        design = self._open_design()
        if "-cell" not in args.values:
            raise CommandError(
                "Emulator 99-3", "read_checkpoint without -cell (project mode) is not emulated"
            )
        cell = self._reconfigurable_cell(design, args.values["-cell"])
        module = self._load(args.positionals["file"])
        if module.info.part != design.part:
            raise CommandError(
                "Project 1-1014",
                f"Checkpoint '{module.path}' is for part {module.info.part}, "
                f"the design is for {design.part}",
            )
        if module.is_static or not module.content.out_of_context:
            raise CommandError(
                "Project 1-1015",
                f"Checkpoint '{module.path}' is a whole design, not a module synthesized out of "
                "context",
            )
        if design.filled(cell) is not None:
            raise CommandError(
                "Emulator 99-7",
                f"Cell '{cell}' is not a black box; run update_design -cell {cell} -black_box "
                "first",
            )
        self.console.info(
            "Project 1-454", f"Reading design checkpoint '{module.path}' for cell '{cell}'"
        )
        target = design.content.cells[cell]
        target.ref, target.black_box = module.info.top, False
        target.placement = module.content.static_placement
        design.content.stage = "synthesized"  # the module in the cell is neither placed nor routed
        self.timing_paths.clear()
        return ""

    @_command(
        Spec(flags=frozenset({"-force"}), values=frozenset({"-cell"}), required=("file",), big=True)
    )
    def write_checkpoint(self, args: Args) -> Result:
        design = self._open_design()
        path = Path(args.positionals["file"])
        if path.suffix != ".dcp":
            path = path.with_name(path.name + ".dcp")
        self._writable(path, args)
        if "-cell" in args.values:
            cell = self._reconfigurable_cell(design, args.values["-cell"])
            module = design.filled(cell)
            if module is None:
                raise CommandError("Vivado 12-1017", f"Cell '{cell}' is a black box")
            content = DesignContent(
                part=design.part,
                top=module.ref,
                product=IDENTITY,
                out_of_context=True,
                stage=design.content.stage,
                static_placement=module.placement,
            )
        else:
            content = copy.deepcopy(design.content)
            content.part, content.product, content.fault = design.part, IDENTITY, None
        try:
            write_checkpoint_file(path, content)
        except OSError as exc:
            raise CommandError("Common 17-210", f"Cannot write checkpoint '{path}': {exc}") from exc
        self.console.info("Common 17-1381", f"The checkpoint '{path}' has been generated.")
        return ""

    @_command(Spec())
    def close_design(self, args: Args) -> Result:
        self._open_design()
        self.design = None
        self.timing_paths.clear()
        return ""

    @_command(Spec(flags=frozenset({"-delete"})))
    def close_project(self, args: Args) -> Result:
        return self.close_design(args)

    # -- constraints: the partition ------------------------------------------------------------

    @_command(
        Spec(
            flags=frozenset({"-unmanaged", "-no_add"}),
            values=frozenset({"-cells", "-ref", "-mode"}),
            required=("files",),
        )
    )
    def read_xdc(self, args: Args) -> Result:
        design = self._open_design()
        if "-cells" in args.values:
            self._cells(design, args.values["-cells"])
        if self.source_xdc is None:
            raise CommandError("Emulator 99-3", "read_xdc is not emulated in this session")
        for file in self.splitlist(args.positionals["files"]):
            if not Path(file).is_file():
                raise CommandError("Common 17-69", f"Command failed: File '{file}' does not exist")
            self.console.line(f"Parsing XDC File [{file}]")
            self.constraints_file = file
            try:
                failures = self.source_xdc(file)
            finally:
                self.constraints_file = None
            for failure in failures:
                # Vivado keeps a failed constraint's own id and adds where it is, [file:line].
                if match := _MESSAGE.match(failure):
                    self.console.critical_warning(match.group(1), match.group(2))
                else:
                    self.console.critical_warning("Designutils 20-1307", failure)
            self.console.line(f"Finished Parsing XDC File [{file}]")
        return ""

    @_command(Spec(optional=("instance",)))
    def current_instance(self, args: Args) -> Result:
        design = self._open_design()
        instance = args.positionals.get("instance")
        if instance not in (None, "", ".") and instance not in design.content.cells:
            raise CommandError("Common 17-55", f"'current_instance' no such instance '{instance}'")
        return instance if instance not in (None, ".") else ""

    @_command(Spec(values=frozenset({"-parent"}), required=("name",)))
    def create_pblock(self, args: Args) -> Result:
        design = self._open_design()
        name = args.positionals["name"]
        if name in design.content.pblocks:
            self.console.warning(
                "Emulator 99-5", f"Pblock '{name}' exists already in the design; it is reused"
            )
        design.content.pblocks.setdefault(name, Pblock())
        return name

    @_command(
        Spec(
            flags=frozenset({"-top", "-add_primitives", "-clear_locs"}),
            required=("pblock",),
            optional=("cells",),
        )
    )
    def add_cells_to_pblock(self, args: Args) -> Result:
        design = self._open_design()
        pblock = self._pblock(design, args.positionals["pblock"])
        if "-top" in args.flags:
            return ""
        for name in self._cells(design, args.positionals.get("cells", "")):
            design.content.cells[name].pblock = pblock
        return ""

    @_command(
        Spec(values=frozenset({"-add", "-remove", "-locs", "-from", "-to"}), required=("pblock",))
    )
    def resize_pblock(self, args: Args) -> Result:
        design = self._open_design()
        pblock = design.content.pblocks[self._pblock(design, args.positionals["pblock"])]
        for how in ("add", "remove"):
            ranges = args.values.get(f"-{how}")
            if ranges is None:
                continue
            for one in self.splitlist(ranges):
                if not _SITE_RANGE.match(one):
                    raise CommandError(
                        "Common 17-161", f"Invalid option value '{one}' specified for '{how}'."
                    )
            entry = (how, " ".join(self.splitlist(ranges)))
            if entry not in pblock.ranges:  # a range the pblock has already is no change
                pblock.ranges.append(entry)
        return ""

    # -- implementation ------------------------------------------------------------------------

    @_command(Spec(values=frozenset({"-directive"}), big=True))
    def opt_design(self, args: Args) -> Result:
        return self._implementation_step(
            "opt_design", args, needs="synthesized", reaches="optimized"
        )

    @_command(Spec(big=True))
    def power_opt_design(self, args: Args) -> Result:
        return self._implementation_step(
            "power_opt_design", args, needs="optimized", reaches="optimized"
        )

    @_command(Spec(values=frozenset({"-directive"}), big=True))
    def place_design(self, args: Args) -> Result:
        return self._implementation_step(
            "place_design", args, needs="synthesized", reaches="placed"
        )

    @_command(Spec(values=frozenset({"-directive"}), big=True))
    def phys_opt_design(self, args: Args) -> Result:
        return self._implementation_step("phys_opt_design", args, needs="placed", reaches="placed")

    @_command(Spec(flags=frozenset({"-tns_cleanup"}), values=frozenset({"-directive"}), big=True))
    def route_design(self, args: Args) -> Result:
        return self._implementation_step("route_design", args, needs="placed", reaches="routed")

    # Not framed by `Command:` ... `failed`: pr_verify fails as Tcl-level commands do (17-39).
    @_command(
        Spec(
            flags=frozenset({"-full_check", "-in_memory"}),
            values=frozenset({"-file", "-initial", "-additional"}),
            optional=("file1", "file2"),
        )
    )
    def pr_verify(self, args: Args) -> Result:
        if "-initial" in args.values:
            if args.positionals:
                raise CommandError(
                    "Vivado 12-3251", "Use either -initial/-additional or two checkpoint files"
                )
            paths = [args.values["-initial"], *self.splitlist(args.values.get("-additional", ""))]
        else:
            paths = list(args.positionals.values())
        if len(paths) < 2:
            raise CommandError("Vivado 12-3251", "pr_verify needs at least two checkpoints")
        first, *others = (self._load(path) for path in paths)
        problems: dict[Path, list[str]] = {}
        for other in others:
            found = problems.setdefault(other.path, [])
            found += self._static_differences(first, other)
            if self._fault_is("pr_verify_incompatible"):
                found.append("static routing differs at tile INT_X52Y300 (emulated fault)")
            if "-full_check" not in args.flags:
                del found[1:]  # as Vivado: only the first difference unless asked for all
        if "-file" in args.values:
            lines = [f"pr_verify ({IDENTITY})", f"Initial: {first.path}"]
            for path, found in problems.items():
                lines += [f"Additional: {path}", *(f"Problem: {problem}" for problem in found)]
                lines.append(f"Result: {'INCOMPATIBLE' if found else 'COMPATIBLE'}")
            Path(args.values["-file"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
        for path, found in problems.items():
            pair = f"PR_VERIFY: check points {first.path} and {path}"
            if found:
                self.console.error(
                    PR_VERIFY_INCOMPATIBLE_ID, f"{pair} are not compatible: {'; '.join(found)}"
                )
            else:
                self.console.info(PR_VERIFY_COMPATIBLE_ID, f"{pair} are compatible")
        if any(problems.values()):
            raise CommandError("Common 17-39", "'pr_verify' failed due to earlier errors.")
        return ""

    @staticmethod
    def _static_differences(first: Checkpoint, other: Checkpoint) -> list[str]:
        """How two configurations of one static design differ in what must be the same."""
        a, b = first.content, other.content
        found = [
            f"'{checkpoint.path}' has no reconfigurable partition"
            for checkpoint in (first, other)
            if not checkpoint.is_static
        ]
        if a.part != b.part:
            found.append(f"part {b.part} is not {a.part}")
        if a.top != b.top:
            found.append(f"top {b.top} is not {a.top}: they are not the same static design")
        if a.reconfigurable != b.reconfigurable:
            found.append(
                f"reconfigurable partitions {sorted(b.reconfigurable.items())} are not "
                f"{sorted(a.reconfigurable.items())}"
            )
        if a.static_digest != b.static_digest:
            found.append("the static design's placement and routing differ")
        if not (a.is_at_least("routed") and b.is_at_least("routed")):
            found.append("both checkpoints must be routed")
        return found

    # -- reports and timing --------------------------------------------------------------------

    @_command(
        Spec(
            flags=frozenset({"-append", "-return_string"}),
            values=frozenset({"-file", "-delay_type", "-max_paths"}),
            big=True,
        )
    )
    def report_timing_summary(self, args: Args) -> Result:
        design = self._open_design()
        _delay_type(args)  # checked as Vivado does; the summary always shows setup and hold
        setup, hold = self._slacks(design)
        endpoints = 20000 + _digits(design.seed, 20000)
        met = setup >= 0
        body = [
            "Design Timing Summary",
            "---------------------",
            "    WNS(ns)      TNS(ns)  TNS Failing Endpoints  TNS Total Endpoints      WHS(ns)",
            f"    {setup:7.3f}      {min(setup, 0) * 17:7.3f}  {0 if met else 17:21d}  "
            f"{endpoints:19d}      {hold:7.3f}",
            "",
            "All user specified timing constraints are met."
            if met
            else "Timing constraints are not met.",
        ]
        if not met:
            self.console.critical_warning(
                "Timing 38-282",
                "The design failed to meet the timing requirements. Please see the timing "
                "summary report for details on the timing violations.",
            )
        return self._report("report_timing_summary", design, args, body)

    @_command(
        Spec(
            flags=frozenset({"-append", "-return_string"}),
            values=frozenset({"-file", "-pblocks", "-cells"}),
            big=True,
        )
    )
    def report_utilization(self, args: Args) -> Result:
        design = self._open_design()
        scope = "design"
        for option, known in (
            ("-pblocks", set(design.content.pblocks)),
            ("-cells", set(design.content.cells)),
        ):
            if option in args.values:
                names = self.splitlist(args.values[option])
                unknown = [name for name in names if name not in known] or ([] if names else [""])
                if unknown:
                    raise CommandError(
                        "Vivado 12-1023", f"No {option[1:]} matched '{' '.join(unknown)}'"
                    )
                scope = " ".join(names)
        if self._fault_is("tcl_error"):
            raise CommandError("Common 17-39", "'report_utilization' failed due to earlier errors.")
        body = [f"Utilization of {scope}", "", "| Site Type | Used | Available | Util% |"]
        for site, available in _VU9P_RESOURCES.items():
            used = _digits(design.seed + site + scope, available // 4)
            body.append(f"| {site} | {used} | {available} | {100 * used / available:.2f} |")
        return self._report("report_utilization", design, args, body)

    @_command(
        Spec(
            flags=frozenset({"-append", "-return_string"}),
            values=frozenset({"-file"}),
            big=True,
        )
    )
    def report_drc(self, args: Args) -> Result:
        design = self._open_design()
        threads = self.params.get("general.maxThreads", "2")
        self.console.info("DRC 23-27", f"Running DRC with {threads} threads")
        violations = self._drc_violations(design, cell=None)
        body = [f"Checks found: {len(violations)}", ""]
        body += [f"{rule} Error: {text}" for rule, text in violations]
        return self._report("report_drc", design, args, body)

    def _drc_violations(self, design: Design, cell: str | None) -> list[tuple[str, str]]:
        cells = [cell] if cell else sorted(design.content.reconfigurable)
        violations = [
            (
                "BBOX-1",
                f"Black box instances: Cell '{name}' has undefined contents and is considered "
                "a black box.",
            )
            for name in cells
            if design.filled(name) is None
        ]
        if not design.content.is_at_least("routed"):
            violations.append(
                ("RTSTAT-1", f"Unrouted nets: design '{design.name}' is {design.content.stage}")
            )
        if self._fault_is("drc_error"):
            violations.append(
                (
                    "UTLZ-1",
                    "Resource utilization: CLB LUTs over-utilized in Pblock "
                    f"{design.content.reconfigurable.get(cells[0]) if cells else ''} "
                    "(emulated fault)",
                )
            )
        return violations

    @_command(
        Spec(
            flags=frozenset({"-setup", "-hold"}),
            values=frozenset({"-delay_type", "-max_paths", "-nworst"}),
        )
    )
    def get_timing_paths(self, args: Args) -> Result:
        design = self._open_design()
        for option in ("-max_paths", "-nworst"):
            value = args.values.get(option, "1")
            if not value.isdigit() or int(value) < 1:
                raise CommandError(
                    "Common 17-161", f"Invalid option value '{value}' specified for '{option[1:]}'."
                )
        delay_type = _delay_type(args)
        setup, hold = self._slacks(design)
        kinds = []
        if "-setup" in args.flags or delay_type in ("max", "min_max"):
            kinds.append(("max", setup))
        if "-hold" in args.flags or delay_type in ("min", "min_max"):
            kinds.append(("min", hold))
        names = []
        for kind, slack in kinds:
            name = f"timing_path_{len(self.timing_paths) + 1}"
            self.timing_paths[name] = {
                "CLASS": "timing_path",
                "NAME": name,
                "DELAY_TYPE": kind,
                "SLACK": f"{slack:.3f}",
            }
            names.append(name)
        return tuple(names)

    # -- objects, properties, parameters -------------------------------------------------------

    @_command(Spec(required=("name", "object")))
    def get_property(self, args: Args) -> Result:
        name = args.positionals["name"].upper()
        values = []
        for object_name, properties in self._objects(args.positionals["object"]):
            if name not in properties:
                raise CommandError(
                    "Common 17-58", f"'{name}' is not a valid property name for '{object_name}'"
                )
            values.append(properties[name])
        return values[0] if len(values) == 1 else tuple(values)

    @_command(Spec(required=("name", "value", "objects")))
    def set_property(self, args: Args) -> Result:
        name, value = args.positionals["name"].upper(), args.positionals["value"]
        design = self._open_design()
        for object_name, properties in self._objects(args.positionals["objects"]):
            kind = properties["CLASS"]
            settable = _SETTABLE.get(kind, frozenset())
            if name in _READ_ONLY:
                raise CommandError(
                    "Common 17-63", f"Property '{name}' of '{object_name}' is read-only"
                )
            if name not in settable:
                raise CommandError(
                    "Emulator 99-3", f"set_property {name} on {kind} objects is not emulated"
                )
            if kind == "design":
                if name == "BITSTREAM.GENERAL.COMPRESS":
                    value = str(_bool_value(name, value)).upper()
                design.properties[name] = value.upper()
            elif kind == "cell":
                design.content.cells[object_name].reconfigurable = _bool_value(name, value)
            else:
                design.content.pblocks[object_name].properties[name] = value
        return ""

    @_command(Spec(required=("name", "value")))
    def set_param(self, args: Args) -> Result:
        name, value = args.positionals["name"], args.positionals["value"]
        if name not in _PARAMS:
            raise CommandError("Common 17-36", f"Parameter '{name}' does not exist")
        if not value.isdigit() or int(value) not in _PARAMS[name]:
            raise CommandError("Common 17-37", f"Invalid value '{value}' for parameter '{name}'")
        self.params[name] = value
        return ""

    @_command(Spec(optional=("design",)))
    def current_design(self, args: Args) -> Result:
        design = self._open_design()
        wanted = args.positionals.get("design")
        if wanted is not None and wanted != design.name:
            raise CommandError("Common 17-55", f"No design named '{wanted}' is open")
        return design.name

    def _match(self, kind: str, candidates: list[str], patterns: str | None) -> Result:
        wanted = self.splitlist(patterns) if patterns is not None else ("*",)
        found = [name for name in candidates if any(fnmatch.fnmatchcase(name, p) for p in wanted)]
        if not found:
            self.console.warning("Vivado 12-180", f"No {kind} matched '{' '.join(wanted)}'.")
        return tuple(found)

    @_command(Spec(flags=frozenset({"-hierarchical"}), optional=("patterns",)))
    def get_cells(self, args: Args) -> Result:
        design = self._open_design()
        return self._match("cells", sorted(design.content.cells), args.positionals.get("patterns"))

    @_command(Spec(optional=("patterns",)))
    def get_pblocks(self, args: Args) -> Result:
        design = self._open_design()
        pblocks = sorted(design.content.pblocks)
        return self._match("pblocks", pblocks, args.positionals.get("patterns"))

    # -- bitstreams ----------------------------------------------------------------------------

    @_command(
        Spec(
            flags=frozenset({"-force", "-bin_file"}),
            values=frozenset({"-cell"}),
            required=("file",),
            big=True,
        )
    )
    def write_bitstream(self, args: Args) -> Result:
        """The full bitstream, and one partial per reconfigurable cell (`<file>_<pblock>_partial`).

        With -cell, only that cell's partial bitstream, as `<file>`.
        """
        design = self._open_design()
        bit_path = Path(args.positionals["file"])
        if bit_path.suffix != ".bit":
            bit_path = bit_path.with_name(bit_path.name + ".bit")
        cell = args.values.get("-cell")
        outputs: list[tuple[Path, str | None]]
        if cell is not None:
            self._reconfigurable_cell(design, cell)
            outputs = [(bit_path, cell)]
        else:
            base = bit_path.with_suffix("")
            outputs = [(bit_path, None)] + [
                (base.with_name(f"{base.name}_{pblock}_partial.bit"), name)
                for name, pblock in sorted(design.content.reconfigurable.items())
            ]
        with_bin = "-bin_file" in args.flags
        for path, _ in outputs:
            self._writable(path, args)
            if with_bin:
                self._writable(path.with_suffix(".bin"), args)
        console = self.console
        console.line("Running DRC as a precondition to command write_bitstream")
        console.info(
            "DRC 23-27", f"Running DRC with {self.params.get('general.maxThreads', '2')} threads"
        )
        violations = self._drc_violations(design, cell)
        for rule, text in violations:
            console.error(f"DRC {rule}", text)
        console.info("Vivado 12-3199", f"DRC finished with {len(violations)} Errors")
        if violations:
            raise CommandError("Vivado 12-1345", "Error(s) found during DRC. Bitgen not run.")
        compress = design.properties.get("BITSTREAM.GENERAL.COMPRESS") == "TRUE"
        console.line("Creating bitmap...")
        console.line("Creating bitstream...")
        for path, partial_cell in outputs:
            module = design.filled(partial_cell) if partial_cell else None
            seed = design.seed + (partial_cell or "")
            fields = [module.ref if module else design.name, f"COMPRESS={str(compress).upper()}"]
            fields += ["PARTIAL=TRUE"] if module else []
            fields += ["UserID=0XFFFFFFFF", f"Version={EMULATED_VIVADO_VERSION}"]
            fields += [f"EMULATED={EMULATOR_NAME}"]
            frames = (200 + _digits(seed, 200)) * (1 if module else 8)
            bitstream = emulated_bitstream(seed, frames=frames // 2 if compress else frames)
            if module:
                console.line(f"Partial bitstream contains {len(bitstream) * 8} bits.")
            bin_path = path.with_suffix(".bin") if with_bin else None
            for written in (path, bin_path):
                if written is not None:
                    console.line(f"Writing bitstream {written}...")
            try:
                write_bitstream_files(
                    path, bin_path, design=";".join(fields), part=design.part, bitstream=bitstream
                )
            except OSError as exc:
                raise CommandError("Vivado 12-1346", f"Cannot write bitstream: {exc}") from exc
        console.info("Vivado 12-1842", "Bitgen Completed Successfully.")
        return ""

    @_command(Spec(flags=frozenset({"-force"}), values=frozenset({"-cell"}), required=("file",)))
    def write_debug_probes(self, args: Args) -> Result:
        design = self._open_design()
        if "-cell" in args.values:
            self._reconfigurable_cell(design, args.values["-cell"])
        path = self._writable(Path(args.positionals["file"]), args)
        self.console.warning("Chipscope 16-96", "No debug cores found in the current design.")
        path.write_text(json.dumps({"emulated_by": EMULATOR_NAME, "debug_cores": []}) + "\n")
        return ""

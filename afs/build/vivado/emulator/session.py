"""What the command families share: option parsing, the registry, the open design, SessionBase."""

from __future__ import annotations

import hashlib
import os
import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

from afs.build.vivado.emulator.checkpoints import (
    Cell,
    Checkpoint,
    CheckpointError,
    DesignContent,
    load_checkpoint,
)
from afs.build.vivado.emulator.console import Console
from afs.build.vivado.emulator.faults import EMULATOR_FAULTS_ENV, FAULT_ID, Fault, FaultError

Result = str | tuple[str, ...]

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


# A handler's `self` is the family class that defines it; dispatch passes the Session, which
# derives from every family, so the registry takes any `self`.
_COMMANDS: dict[str, tuple[Spec, Callable[[Any, Args], Result]]] = {}


_Handler = TypeVar("_Handler", bound=Callable[[Any, Args], Result])


def command(spec: Spec) -> Callable[[_Handler], _Handler]:
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


def digits(seed: str, modulo: int) -> int:
    return int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % modulo


def _hms(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SessionBase:
    """One emulated Vivado session's state, its dispatch, and the helpers every family shares."""

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

    def _writable(self, path: Path, args: Args) -> Path:
        if path.exists() and "-force" not in args.flags:
            raise CommandError(
                "Common 17-349", f"File '{path}' already exists; use -force to overwrite it"
            )
        return path

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

"""The commands that open, read, write and close designs."""

from __future__ import annotations

import copy
from pathlib import Path

from afs.build.vivado.emulator import IDENTITY
from afs.build.vivado.emulator.checkpoints import DesignContent, write_checkpoint_file
from afs.build.vivado.emulator.session import (
    Args,
    CommandError,
    Design,
    Result,
    SessionBase,
    Spec,
    command,
)


class DesignCommands(SessionBase):
    """open_checkpoint, read_checkpoint, write_checkpoint, close_design, close_project."""

    # -- opening, reading and writing designs --------------------------------------------------

    @command(Spec(values=frozenset({"-part"}), required=("file",), big=True))
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

    @command(
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

    @command(
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

    @command(Spec())
    def close_design(self, args: Args) -> Result:
        self._open_design()
        self.design = None
        self.timing_paths.clear()
        return ""

    @command(Spec(flags=frozenset({"-delete"})))
    def close_project(self, args: Args) -> Result:
        return self.close_design(args)

"""The bitstream commands: write_bitstream (full and partial) and write_debug_probes."""

from __future__ import annotations

import json
from pathlib import Path

from afs.build.vivado.emulator import EMULATED_VIVADO_VERSION, EMULATOR_NAME
from afs.build.vivado.emulator.bitstream import (
    design_field,
    emulated_bitstream,
    write_bitstream_files,
)
from afs.build.vivado.emulator.session import (
    Args,
    CommandError,
    Result,
    SessionBase,
    Spec,
    command,
    digits,
)
from afs.inputs.bitstream import idcode_of


class BitstreamCommands(SessionBase):
    """write_bitstream, write_debug_probes."""

    # -- bitstreams ----------------------------------------------------------------------------

    @command(
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
            header_design = design_field(
                module.ref if module else design.name,
                partial=module is not None,
                compress=compress,
                version=EMULATED_VIVADO_VERSION,
                marks={"EMULATED": EMULATOR_NAME},
            )
            frames = (200 + digits(seed, 200)) * (1 if module else 8)
            bitstream = emulated_bitstream(
                seed, frames=frames // 2 if compress else frames, idcode=idcode_of(design.part)
            )
            if module:
                console.line(f"Partial bitstream contains {len(bitstream) * 8} bits.")
            bin_path = path.with_suffix(".bin") if with_bin else None
            for written in (path, bin_path):
                if written is not None:
                    console.line(f"Writing bitstream {written}...")
            try:
                write_bitstream_files(
                    path, bin_path, design=header_design, part=design.part, bitstream=bitstream
                )
            except OSError as exc:
                raise CommandError("Vivado 12-1346", f"Cannot write bitstream: {exc}") from exc
        console.info("Vivado 12-1842", "Bitgen Completed Successfully.")
        return ""

    @command(Spec(flags=frozenset({"-force"}), values=frozenset({"-cell"}), required=("file",)))
    def write_debug_probes(self, args: Args) -> Result:
        design = self._open_design()
        if "-cell" in args.values:
            self._reconfigurable_cell(design, args.values["-cell"])
        path = self._writable(Path(args.positionals["file"]), args)
        self.console.warning("Chipscope 16-96", "No debug cores found in the current design.")
        path.write_text(json.dumps({"emulated_by": EMULATOR_NAME, "debug_cores": []}) + "\n")
        return ""

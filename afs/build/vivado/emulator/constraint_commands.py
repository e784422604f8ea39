"""The constraint commands: the partition (read_xdc, pblocks), objects, properties, parameters."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from afs.build.vivado.emulator.checkpoints import Pblock
from afs.build.vivado.emulator.session import (
    Args,
    CommandError,
    Design,
    Result,
    SessionBase,
    Spec,
    command,
)

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
_MESSAGE = re.compile(r"^ERROR: \[([^\]]+)\] (.*)$", re.S)
_SITE_RANGE = re.compile(r"^[A-Z][A-Z0-9_]*_X\d+Y\d+(:[A-Z][A-Z0-9_]*_X\d+Y\d+)?$")


def _bool_value(name: str, value: str) -> bool:
    if value.upper() in ("TRUE", "1"):
        return True
    if value.upper() in ("FALSE", "0"):
        return False
    raise CommandError("Common 17-161", f"Invalid value '{value}' for property '{name}'.")


class ConstraintCommands(SessionBase):
    """read_xdc, current_instance, pblocks, get_cells/get_pblocks, properties, parameters."""

    # -- constraints: the partition ------------------------------------------------------------

    @command(
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

    @command(Spec(optional=("instance",)))
    def current_instance(self, args: Args) -> Result:
        design = self._open_design()
        instance = args.positionals.get("instance")
        if instance not in (None, "", ".") and instance not in design.content.cells:
            raise CommandError("Common 17-55", f"'current_instance' no such instance '{instance}'")
        return instance if instance not in (None, ".") else ""

    @command(Spec(values=frozenset({"-parent"}), required=("name",)))
    def create_pblock(self, args: Args) -> Result:
        design = self._open_design()
        name = args.positionals["name"]
        if name in design.content.pblocks:
            self.console.warning(
                "Emulator 99-5", f"Pblock '{name}' exists already in the design; it is reused"
            )
        design.content.pblocks.setdefault(name, Pblock())
        return name

    @command(
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

    @command(
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

    # -- objects, properties, parameters -------------------------------------------------------

    @command(Spec(required=("name", "object")))
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

    @command(Spec(required=("name", "value", "objects")))
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

    @command(Spec(required=("name", "value")))
    def set_param(self, args: Args) -> Result:
        name, value = args.positionals["name"], args.positionals["value"]
        if name not in _PARAMS:
            raise CommandError("Common 17-36", f"Parameter '{name}' does not exist")
        if not value.isdigit() or int(value) not in _PARAMS[name]:
            raise CommandError("Common 17-37", f"Invalid value '{value}' for parameter '{name}'")
        self.params[name] = value
        return ""

    @command(Spec(optional=("design",)))
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

    @command(Spec(flags=frozenset({"-hierarchical"}), optional=("patterns",)))
    def get_cells(self, args: Args) -> Result:
        design = self._open_design()
        return self._match("cells", sorted(design.content.cells), args.positionals.get("patterns"))

    @command(Spec(optional=("patterns",)))
    def get_pblocks(self, args: Args) -> Result:
        design = self._open_design()
        pblocks = sorted(design.content.pblocks)
        return self._match("pblocks", pblocks, args.positionals.get("patterns"))

    # -- helpers -------------------------------------------------------------------------------

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

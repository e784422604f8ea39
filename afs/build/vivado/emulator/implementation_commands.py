"""The implementation commands: opt, power_opt, place, phys_opt, route, and pr_verify."""

from __future__ import annotations

from pathlib import Path

from afs.build.vivado.emulator import IDENTITY
from afs.build.vivado.emulator.checkpoints import Checkpoint
from afs.build.vivado.emulator.session import (
    Args,
    CommandError,
    Result,
    SessionBase,
    Spec,
    command,
)
from afs.build.vivado.logparse import PR_VERIFY_COMPATIBLE_ID, PR_VERIFY_INCOMPATIBLE_ID

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


def _directive(name: str, args: Args) -> str:
    directive = args.values.get("-directive", "Default")
    if directive not in _DIRECTIVES[name]:
        raise CommandError(
            "Common 17-161", f"Invalid option value '{directive}' specified for 'directive'."
        )
    return directive


class ImplementationCommands(SessionBase):
    """opt_design, power_opt_design, place_design, phys_opt_design, route_design, pr_verify."""

    # -- implementation ------------------------------------------------------------------------

    @command(Spec(values=frozenset({"-directive"}), big=True))
    def opt_design(self, args: Args) -> Result:
        return self._implementation_step(
            "opt_design", args, needs="synthesized", reaches="optimized"
        )

    @command(Spec(big=True))
    def power_opt_design(self, args: Args) -> Result:
        return self._implementation_step(
            "power_opt_design", args, needs="optimized", reaches="optimized"
        )

    @command(Spec(values=frozenset({"-directive"}), big=True))
    def place_design(self, args: Args) -> Result:
        return self._implementation_step(
            "place_design", args, needs="synthesized", reaches="placed"
        )

    @command(Spec(values=frozenset({"-directive"}), big=True))
    def phys_opt_design(self, args: Args) -> Result:
        return self._implementation_step("phys_opt_design", args, needs="placed", reaches="placed")

    @command(Spec(flags=frozenset({"-tns_cleanup"}), values=frozenset({"-directive"}), big=True))
    def route_design(self, args: Args) -> Result:
        return self._implementation_step("route_design", args, needs="placed", reaches="routed")

    # Not framed by `Command:` ... `failed`: pr_verify fails as Tcl-level commands do (17-39).
    @command(
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

    # -- helpers -------------------------------------------------------------------------------

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

"""The report and timing commands: timing summary, utilization, DRC, timing paths."""

from __future__ import annotations

import socket
from datetime import datetime
from pathlib import Path

from afs.build.vivado.emulator import IDENTITY
from afs.build.vivado.emulator.session import (
    Args,
    CommandError,
    Design,
    Result,
    SessionBase,
    Spec,
    command,
    digits,
)

# VU9P resources, for the utilization reports.
_VU9P_RESOURCES = {
    "CLB LUTs": 1182240,
    "CLB Registers": 2364480,
    "Block RAM Tile": 2160,
    "DSPs": 6840,
}


def _delay_type(args: Args) -> str:
    delay_type = args.values.get("-delay_type", "max")
    if delay_type not in ("min", "max", "min_max"):
        raise CommandError(
            "Common 17-161", f"Invalid option value '{delay_type}' specified for 'delay_type'."
        )
    return delay_type


class ReportCommands(SessionBase):
    """report_timing_summary, report_utilization, report_drc, get_timing_paths."""

    # -- reports and timing --------------------------------------------------------------------

    @command(
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
        endpoints = 20000 + digits(design.seed, 20000)
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

    @command(
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
            used = digits(design.seed + site + scope, available // 4)
            body.append(f"| {site} | {used} | {available} | {100 * used / available:.2f} |")
        return self._report("report_utilization", design, args, body)

    @command(
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

    @command(
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

    # -- helpers -------------------------------------------------------------------------------

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
        setup = 0.05 + digits(design.seed + "setup", 400) / 1000
        if self._fault_is("timing_violation"):
            setup = -0.123
        return setup, 0.01 + digits(design.seed + "hold", 40) / 1000

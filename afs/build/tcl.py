"""The Tcl that Vivado runs: quoting values into Tcl words and rendering the build script.

Every value reaches a template through the `tcl` filter, so a path or image id may hold `$`,
`[...]`, braces, quotes or newlines and still arrive in Tcl as exactly that string, never evaluated.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import BaseModel

from afs.settings import VU9P_PART

# Package data: found where the package is installed, a wheel's as a checkout's.
# The repository's top-level vivado_tcl/, installed as this package (see pyproject.toml).
TEMPLATES = "afs.vivado_tcl"
BUILD_TEMPLATE = "build_partial.tcl.j2"
BITSTREAM_BASENAME = "ul_pr_top"

# Characters Tcl would act on inside a double-quoted word; braces are escaped too so the word stays
# balanced when a template puts it inside a braced body (Tcl skips backslash-escaped braces).
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "$": "\\$",
    "[": "\\[",
    "]": "\\]",
    "{": "\\{",
    "}": "\\}",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
}


def tcl_quote(value: str) -> str:
    """One Tcl word (double-quoted, ASCII only) whose value is exactly `value`.

    Printable ASCII passes as is; everything else becomes a `\\uXXXX` escape of exactly four hex
    digits (so a following hex digit is never absorbed), non-BMP characters as a surrogate pair.
    A newline is `\\n`, never a raw newline, because backslash-newline continues a Tcl line.
    """
    if not isinstance(value, str):
        raise TypeError(f"tcl_quote takes a str, not {type(value).__name__}")
    out = ['"']
    for char in value:
        code = ord(char)
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0x20 <= code < 0x7F:
            out.append(char)
        elif code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


class BuildScriptInputs(BaseModel):
    """Everything the VU9P partial-bitstream script needs; all of it is quoted into the Tcl.

    `user_dcp` is the tenant's whole routed design, `shell_dcp` the shell's static checkpoint
    (the FP1 kit's SH_UL_BB_routed.dcp) it was routed against.
    """

    image_id: str
    user_dcp: Path
    shell_dcp: Path
    output_dir: Path
    reports_dir: Path
    part: str = VU9P_PART
    user_cell: str = "u_ul_pr_top"
    pblock: str = "pblock_u_ul_pr_top"

    @property
    def bitstream(self) -> Path:
        """What `write_bitstream -bin_file` is given: the full bitstream's name, no suffix."""
        return self.output_dir / BITSTREAM_BASENAME

    @property
    def partial_bin(self) -> Path:
        """The partial bitstream body (no .bit header) that goes into the image."""
        return self.output_dir / f"{BITSTREAM_BASENAME}_{self.pblock}_partial.bin"

    @property
    def partial_bit(self) -> Path:
        return self.output_dir / f"{BITSTREAM_BASENAME}_{self.pblock}_partial.bit"


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader(TEMPLATES, "."),
        undefined=StrictUndefined,
        autoescape=False,  # noqa: S701 - Tcl, not HTML: the `tcl` filter is the escaping
        keep_trailing_newline=True,
    )
    environment.filters["tcl"] = tcl_quote
    return environment


def render_build_script(inputs: BuildScriptInputs) -> str:
    """The build Tcl for `inputs`; every value is passed as a str so the filter quotes it."""
    context = {
        "image_id": inputs.image_id,
        "user_dcp": str(inputs.user_dcp),
        "shell_dcp": str(inputs.shell_dcp),
        "output_dir": str(inputs.output_dir),
        "reports_dir": str(inputs.reports_dir),
        "part": inputs.part,
        "user_cell": inputs.user_cell,
        "pblock": inputs.pblock,
        "bitstream": str(inputs.bitstream),
    }
    return _environment().get_template(BUILD_TEMPLATE).render(context)

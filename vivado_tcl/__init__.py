"""The Jinja templates of the Tcl that Vivado runs, installed as `afs.vivado_tcl` (package data)."""

"""Prefect tasks: thin I/O glue, one step each, around functions in `afs`."""

"""The HTTP API: Huawei-compatible paths, bodies and errors over the catalog (see create_app)."""

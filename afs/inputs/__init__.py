"""The tenant's upload: tar safety, the manifest, reading the DCP, and `pack`."""

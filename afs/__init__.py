"""FPGA image factory: turns a tenant's Vivado DCP tarball into a VU9P FPGA image.

Its packages, one concern each (the README's "Layout" says the same):
- `models`, `status`, `errors`, `settings`: the domain's rules, statuses, causes and settings;
- `inputs`: the tenant's upload (tar safety, manifest, DCP, `pack`);
- `catalog`: the system of record (images, associations, access keys, replays, the quota);
- `storage`, `tenants`: the object store, and each project's storage;
- `build`: one image build without Prefect, with `build.vivado` (runner, log parser, emulator);
- `orchestration`: everything that knows Prefect;
- `wire`: what the API and the client share; `api`: the server; `client`: the tenant's client;
- `devstack`: the embedded default (local servers, the demo, samples); `cli`: the `afs` command.
"""

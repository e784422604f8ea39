"""FPGA image factory: turns a tenant's Vivado DCP tarball into a VU9P FPGA image."""

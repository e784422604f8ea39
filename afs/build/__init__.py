"""One image build without Prefect: job, workspace, Tcl, image file, log bundle, Vivado."""

# A tenant's implementation run written the way the FP1 kit's build_facs.tcl does it (IMPL_EN part):
# argv: <lib dir with checkpoints/ and constraints/> <post_synth.dcp> <to_facs dir> <prj name>
lassign $argv LIB_DIR SYNTH_DCP TO_FACS PRJ_NAME

open_checkpoint $LIB_DIR/checkpoints/SH_UL_BB_routed.dcp
read_xdc $LIB_DIR/constraints/pr_pblock.xdc
set_property HD.RECONFIGURABLE TRUE [get_cells u_ul_pr_top]
read_checkpoint -strict -cell u_ul_pr_top $SYNTH_DCP
opt_design -directive Explore
place_design -directive Explore
phys_opt_design -directive Explore
route_design -directive Explore
report_timing_summary -file $TO_FACS/${PRJ_NAME}_final_timing_summary.rpt
write_checkpoint -force $TO_FACS/${PRJ_NAME}_routed.dcp
close_project

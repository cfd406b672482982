# Sourced by the ci/ scripts: lets Open MPI run as root (CI machines and
# containers) and place more ranks than cores (2-core machines run 5 ranks).
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# No InfiniBand or high-speed network on CI machines: keep Open MPI quiet about it.
export OMPI_MCA_btl_base_warn_component_unused=0

# Sourced by scripts/image.sh; tests/integration/image/test_image.py reads the same options.
#
# On machines like this project's CI VMs, podman's defaults fail in two ways:
# - crun refuses hybrid v1/v2 cgroups ("cgroups in hybrid mode not supported"): runc, when it is
#   installed, handles them;
# - podman raises a container's open-files and process limits (to 1048576 and 4194304 for root),
#   which needs CAP_SYS_RESOURCE, absent there ("error setting rlimit type 6"). Containers get
#   this shell's own open-files limits and 4096 processes instead: ddbvault runs a few dozen
#   threads.
PODMAN_OPTS=(--ulimit "nofile=$(ulimit -Sn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")
if command -v runc >/dev/null; then PODMAN_OPTS=(--runtime "$(command -v runc)" "${PODMAN_OPTS[@]}"); fi

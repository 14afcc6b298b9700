"""A Dask LocalCluster for bench/scale.py, run as its own process: `python bench/local_cluster.py N`.

Starts N worker processes of one thread each (under nannies) on 127.0.0.1, imports ddbvault's
task module in every worker (long-lived workers pay that once, not per backup), prints the
scheduler's address as one line on stdout, and runs until its stdin is closed (the bench closes
it to stop it), so the bench never imports distributed itself and can read the cluster's CPU
from /proc.
The workers inherit this process's environment: the bench starts it with the local servers'
endpoints and dummy credentials.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or not 1 <= int(argv[0]) <= 16:
        print("usage: local_cluster.py N (1..16 worker processes)", file=sys.stderr)
        return 2
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=int(argv[0]), threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster:
        with Client(cluster) as client:  # warm: every measured run finds ddbvault imported
            client.run(_import_ddbvault)
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()  # until the bench closes the pipe (or dies)
    return 0


def _import_ddbvault() -> None:
    import ddbvault.backup.executors.task  # noqa: F401 - what a segment's task imports


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The command lines a `--runner` job runs: `ddbvault backup plan`, `work` and `commit`.

AWS Batch (iac/batch.py) and Kubernetes (iac/kubernetes.py) run the same three steps of the
plan / work / commit contract, in this order:

1. `backup plan TABLE --to DEST --backup-id ID --parallelism P`: writes DEST/TABLE/ID/plan.json
   (create-only: a second plan of the same id fails instead of replacing it).
2. P workers of `backup work --backup DEST/TABLE/ID`, each with its index in
   AWS_BATCH_JOB_ARRAY_INDEX (Batch) or JOB_COMPLETION_INDEX (Kubernetes) = 0..P-1; the worker
   of index I scans the segments S with S % P == I that have no result yet, so a re-run attempt
   (a retry, a replaced pod) only does what is missing, and two attempts of one segment at once
   are settled by the create-only result (one wins, the loser aborts its own uploads).
3. `backup commit --backup DEST/TABLE/ID`: checks that every segment has a result and writes
   the manifest last; exit 6 (INTEGRITY) names the segments without one.

The backup id is chosen by whoever submits the run (the format `format.layout.new_backup_id`
makes: UTC time and 6 hex digits), so that all three steps name the same backup before the plan
exists. Each runner fills it in its own way: a Batch job parameter (`Ref::backup_id`), a
Kubernetes environment variable (`$(BACKUP_ID)`). The arguments here carry those placeholders
as given; they never see a real id.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

from .inputs import IacInputs
from .policies import Arns

ENTRYPOINT = "ddbvault"  # the image's ENTRYPOINT (Dockerfile); the jobs pass the arguments only
STEPS = ("plan", "work", "commit")
# Exit codes after which a new attempt fails the same way (exit_codes.py): bad options (2), a
# table or backup that does not exist (3), a denied permission (4), an incomplete or corrupted
# backup (6). Any other failure (1, 5: AWS errors after retries, 130: SIGTERM, a killed
# container) is worth another attempt: the steps are idempotent.
FINAL_EXIT_CODES = (2, 3, 4, 6)


def backup_url(inputs: IacInputs, table: str, backup_id: str) -> str:
    """DEST/TABLE/ID, the `--backup` URL of `work` and `commit`."""
    return f"{inputs.destination}/{table}/{backup_id}"


def principal_options(inputs: IacInputs, arns: Arns) -> list:
    """The options that name where the AWS calls go: the region, and the vault role (with its
    external id) that the steps assume to reach the data account's bucket."""
    options = ["--region", inputs.region]
    if inputs.writer_role:
        options += ["--vault-role", arns.writer_role]
        if inputs.external_id:
            options += ["--external-id", inputs.external_id]
    return options


def plan_args(inputs: IacInputs, arns: Arns, *, table, backup_id, parallelism) -> list:
    """`backup plan`'s arguments; `table`, `backup_id` and `parallelism` are the runner's
    placeholders. The write options (SSE, key) are fixed here, in the plan, for every worker."""
    args = ["backup", "plan", table, "--to", inputs.destination, "--backup-id", backup_id,
            "--parallelism", parallelism, "--sse", inputs.sse]
    if arns.key is not None:
        args += ["--kms-key-id", arns.key]
    if inputs.keep is not None:  # the plan chooses the tier and the retention of every object
        args += ["--keep", inputs.keep.to_text()]
    return args + principal_options(inputs, arns) + ["--json"]


def work_args(inputs: IacInputs, arns: Arns, *, backup) -> list:
    """`backup work`'s arguments: no --index, the runner sets the index variable."""
    return ["backup", "work", "--backup", backup, *principal_options(inputs, arns), "--json"]


def commit_args(inputs: IacInputs, arns: Arns, *, backup) -> list:
    """`backup commit`'s arguments."""
    return ["backup", "commit", "--backup", backup, *principal_options(inputs, arns), "--json"]

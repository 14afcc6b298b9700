"""What `ddbvault iam` generates documents for: validated once, frozen, shared by every generator.

`make_inputs()` is the only constructor callers should use: it checks every field and raises
`UsageError` naming the field (`--prod-account`, `--table`, ...) for anything malformed, so the
generators in policies.py, resource_policies.py and cloudformation.py never see bad values.

Pure: no I/O, no boto3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError
from ..format.layout import parse_table_ref
from ..format.retention import KeepPolicy, parse_keep
from ..storage.base import DEFAULT_ACL

_ACCOUNT = re.compile(r"^\d{12}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_KMS_KEY_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):kms:([a-z0-9-]+):(\d{12}):key/[A-Za-z0-9-]{1,128}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
# S3 general purpose bucket names: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Key prefixes end up inside ARNs and policy patterns: no wildcards (* ?) or policy variables ($).
_PREFIX = re.compile(r"^[A-Za-z0-9!_.'()=+,;@ -]+(/[A-Za-z0-9!_.'()=+,;@ -]+)*$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_EXTERNAL_ID = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
# `ddbvault doctor` writes its probe objects under <prefix>/_doctor/; lifecycle expires them.
DOCTOR_DIR = "_doctor"
DEFAULT_BACKUP_ROLE = "ddbvault-backup"
# `--engine`: "scan" reads the tables itself; "export" also has DynamoDB export them into the
# bucket (ExportTableToPointInTime), which needs more grants (docs/export-engine.md).
ENGINES = ("scan", "export")
# The export's S3Prefix is <prefix>/<table>/<backup-id>/export; the doctor's export probe is
# written under <prefix>/_doctor/export/ by the production principal, as DynamoDB would.
EXPORT_DIR = "export"
# `--continuous`: the follower (`ddbvault follow`) runs in the data account as this role, reads the
# production table's stream through the stream's resource-based policy and writes the change log
# under <prefix>/<table>/changes/ (docs/continuous-access.md).
DEFAULT_FOLLOWER_ROLE = "ddbvault-follower"
CHANGES_DIR = "changes"
# `--runner`: the production side runs `ddbvault backup plan / work / commit` as jobs instead of
# one scheduled ECS task per table (iac/runners.py): an AWS Batch array job (CloudFormation) or a
# Kubernetes Indexed Job (YAML, with the role for IRSA). `--parallelism` is the number of workers
# (array size / completions); AWS Batch allows array sizes up to 10,000
# (https://docs.aws.amazon.com/batch/latest/userguide/array_jobs.html).
RUNNERS = ("batch", "kubernetes")
MAX_PARALLELISM = 10_000
DEFAULT_PARALLELISM = 4
DEFAULT_NAMESPACE = "ddbvault"
# An OIDC issuer as IAM names its provider: host and path, no scheme (EKS:
# oidc.eks.REGION.amazonaws.com/id/ID).
_OIDC_PROVIDER = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+(/[A-Za-z0-9._-]+)*$")
# A Kubernetes namespace is a DNS-1123 label.
_NAMESPACE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
# A container image reference: [registry[:port]/]path[:tag][@digest], no spaces or quotes.
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")


@dataclass(frozen=True)
class Table:
    """A production table: its name and ARN (built from --region and --prod-account for names)."""

    name: str
    region: str
    arn: str


@dataclass(frozen=True)
class IacInputs:
    """Validated inputs. Build with make_inputs(); every field is already checked."""

    tables: tuple[Table, ...]
    prod_account: str
    data_account: str
    bucket: str
    region: str
    prefix: str = ""
    kms_key_arn: str | None = None
    create_kms_key: bool = False
    writer_role: str | None = None
    external_id: str | None = None
    backup_role: str = DEFAULT_BACKUP_ROLE
    restore_account: str | None = None
    restore_tables: tuple[str, ...] = ()
    acl: str = DEFAULT_ACL
    keep: KeepPolicy | None = None  # --keep: one lifecycle rule per tier, tagging grants (iac/retention.py)
    engine: str = "scan"  # --engine export: the export grants too (policies.export_statements)
    continuous: bool = False  # --continuous: the follower role and the streams' policies (policies.follower_role_policy)
    follower_role: str = DEFAULT_FOLLOWER_ROLE
    keep_changes: int | None = None  # --keep-changes DAYS: a lifecycle rule expires change-log segments (iac/retention.py)
    runner: str | None = None  # --runner batch|kubernetes: plan/work/commit jobs (iac/runners.py)
    parallelism: int = DEFAULT_PARALLELISM  # --parallelism: workers of the work step
    namespace: str = DEFAULT_NAMESPACE  # --namespace: the Kubernetes namespace of the jobs
    image: str | None = None  # --image: the container image the Kubernetes jobs run
    oidc_provider: str | None = None  # --oidc-provider: the EKS cluster's OIDC issuer (IRSA trust)

    @property
    def exports(self) -> bool:
        """True when DynamoDB exports write into the bucket as the production principal."""
        return self.engine == "export"

    @property
    def partition(self) -> str:
        return partition_of(self.region)

    @property
    def uses_kms(self) -> bool:
        return bool(self.kms_key_arn or self.create_kms_key)

    @property
    def sse(self) -> str:
        """The server-side encryption every backup object gets: "aws:kms" or "AES256"."""
        return "aws:kms" if self.uses_kms else "AES256"

    @property
    def restore_target_account(self) -> str:
        """Where restored tables live: --restore-account, else the production account."""
        return self.restore_account or self.prod_account

    @property
    def restore_table_names(self) -> tuple[str, ...]:
        return self.restore_tables or tuple(t.name for t in self.tables)

    @property
    def grants_cross_account_read(self) -> bool:
        """True when the bucket policy must let the restore account read the backups."""
        return bool(self.restore_account) and self.restore_account != self.data_account

    def key_prefix(self, *parts: str) -> str:
        """An object key prefix under --prefix, ending with '/' (e.g. 'prod/orders/')."""
        return "".join(f"{p}/" for p in (self.prefix, *parts) if p)

    @property
    def destination(self) -> str:
        """The `--to` URL the scheduled backups use."""
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def make_inputs(*, tables: list[str] | tuple[str, ...], prod_account: str, data_account: str,
                bucket: str, region: str = "us-east-1", prefix: str = "",
                kms_key_arn: str | None = None, create_kms_key: bool = False,
                writer_role: str | None = None, external_id: str | None = None,
                backup_role: str = DEFAULT_BACKUP_ROLE, restore_account: str | None = None,
                restore_tables: list[str] | tuple[str, ...] = (),
                keep: str | KeepPolicy | None = None, engine: str = "scan", continuous: bool = False,
                follower_role: str = DEFAULT_FOLLOWER_ROLE, keep_changes: int | None = None,
                runner: str | None = None, parallelism: int | None = None, namespace: str | None = None,
                image: str | None = None, oidc_provider: str | None = None) -> IacInputs:
    """Validated IacInputs. Raises UsageError naming the offending option."""
    region = _check(_REGION, region, "--region", "e.g. eu-west-1")
    prod = _check(_ACCOUNT, prod_account, "--prod-account", "12 digits")
    data = _check(_ACCOUNT, data_account, "--data-account", "12 digits")
    if prod == data:
        raise UsageError("--prod-account and --data-account are the same account; the backups "
                         "must live in a separate account", hint="pass the data account's id")
    _check_options(kms_key_arn, create_kms_key, writer_role, external_id)
    table_refs = _tables(tables, prod, region)
    runner_fields = _runner_fields(runner, parallelism, namespace, image, oidc_provider, engine)
    if runner_fields and (other := next((t for t in table_refs if t.region != region), None)):
        raise UsageError(f"--table {other.arn}: the table is in {other.region}; a --runner's jobs run in --region {region}",
                         hint="generate the jobs once per region, each with the tables of that region")
    return IacInputs(
        tables=table_refs, prod_account=prod, data_account=data,
        bucket=_check(_BUCKET, bucket, "--bucket", "3-63 characters of a-z, 0-9, '.' and '-'"),
        region=region, prefix=_prefix(prefix), kms_key_arn=kms_key_arn,
        create_kms_key=create_kms_key, writer_role=writer_role, external_id=external_id,
        backup_role=_check(_ROLE_NAME, backup_role, "--backup-role", "an IAM role name"),
        restore_account=(_check(_ACCOUNT, restore_account, "--restore-account", "12 digits")
                         if restore_account else None),
        restore_tables=tuple(dict.fromkeys(
            _check(_TABLE_NAME, t, "--restore-table", "a DynamoDB table name") for t in restore_tables)),
        keep=parse_keep(keep) if isinstance(keep, str) else keep,
        engine=_engine(engine), continuous=bool(continuous),
        follower_role=_follower_role(follower_role, continuous, writer_role, backup_role),
        keep_changes=_keep_changes(keep_changes, continuous),
        **runner_fields,
    )


def _runner_fields(runner, parallelism, namespace, image, oidc_provider, engine) -> dict:
    """--runner and the options that only it takes, checked together: each of --parallelism,
    --namespace, --image and --oidc-provider without the runner it belongs to is a usage error,
    and so is a Kubernetes runner without its image and OIDC provider (nothing is guessed)."""
    if runner is None:
        given = [name for name, value in (("--parallelism", parallelism), ("--namespace", namespace),
                                          ("--image", image), ("--oidc-provider", oidc_provider)) if value is not None]
        if given:
            raise UsageError(f"{given[0]} applies to --runner batch|kubernetes only",
                             hint="add --runner batch or --runner kubernetes, or drop " + given[0])
        return {}
    if runner not in RUNNERS:
        raise UsageError(f"invalid --runner {runner!r}: expected one of {', '.join(RUNNERS)}",
                         hint="--runner batch (AWS Batch array job) or --runner kubernetes (Indexed Job)")
    if engine != "scan":
        raise UsageError("--runner splits a Scan into segments; --engine export is one DynamoDB export",
                         hint="drop --engine export, or drop --runner")
    fields = {"runner": runner, "parallelism": _parallelism(parallelism, 2 if runner == "batch" else 1)}
    if runner == "batch":
        for name, value in (("--namespace", namespace), ("--image", image), ("--oidc-provider", oidc_provider)):
            if value is not None:
                raise UsageError(f"{name} applies to --runner kubernetes only",
                                 hint=f"drop {name}: the Batch template takes the image as its ContainerImage parameter")
        return fields
    if image is None or oidc_provider is None:
        missing = "--image" if image is None else "--oidc-provider"
        raise UsageError(f"--runner kubernetes needs {missing}",
                         hint="pass --image REGISTRY/ddbvault:TAG and --oidc-provider oidc.eks.REGION.amazonaws.com/id/ID "
                              "(aws eks describe-cluster --query cluster.identity.oidc.issuer, without https://)")
    return {**fields, "image": _check(_IMAGE, image, "--image", "an image reference such as 123456789012.dkr.ecr."
                                                          "eu-west-1.amazonaws.com/ddbvault:1.4"),
            "oidc_provider": _check(_OIDC_PROVIDER, oidc_provider.removeprefix("https://"), "--oidc-provider",
                                    "the cluster's OIDC issuer without https://, e.g. oidc.eks.eu-west-1.amazonaws.com/id/ABC"),
            "namespace": _check(_NAMESPACE, namespace or DEFAULT_NAMESPACE, "--namespace", "a DNS-1123 label")}


def _parallelism(value: int | None, least: int) -> int:
    """--parallelism: least..10,000 (an AWS Batch array job has at least 2 children)."""
    if value is None:
        return DEFAULT_PARALLELISM
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_PARALLELISM:
        raise UsageError(f"invalid --parallelism {value!r}: expected a whole number from {least} to {MAX_PARALLELISM:,}",
                         hint="the number of workers that scan at once, e.g. --parallelism 8")
    return value


def _keep_changes(days: int | None, continuous: bool) -> int | None:
    """--keep-changes: whole days, 1..36500, with --continuous only."""
    if days is None:
        return None
    if not continuous:
        raise UsageError("--keep-changes sets how long the change log's segments are kept; it needs --continuous",
                         hint="add --continuous (the follower role and the streams' policies)")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 36500:
        raise UsageError("--keep-changes must be a whole number of days from 1 to 36500",
                         hint="e.g. --keep-changes 35; keep the base backups at least as long (docs/continuous.md)")
    return days


def _follower_role(name: str, continuous: bool, writer_role: str | None, backup_role: str) -> str:
    name = _check(_ROLE_NAME, name, "--follower-role", "an IAM role name such as ddbvault-follower")
    if continuous and name in (writer_role, backup_role):
        raise UsageError(f"invalid --follower-role {name!r}: it is also the --writer-role or --backup-role",
                         hint="the follower gets its own role, with its own narrow grants; pick another name")
    return name


def _engine(engine: str) -> str:
    if engine not in ENGINES:
        raise UsageError(f"invalid --engine {engine!r}: expected one of {', '.join(ENGINES)}",
                         hint="--engine export adds the grants DynamoDB's exports need; scan is the default")
    return engine


def _check(pattern: re.Pattern, value: str | None, field: str, expected: str) -> str:
    if value is None or not pattern.match(value):
        raise UsageError(f"invalid {field} {value!r}: expected {expected}",
                         hint=f"check the value of {field}")
    return value


def _check_options(kms_key_arn, create_kms_key, writer_role, external_id) -> None:
    if kms_key_arn is not None:
        _check(_KMS_KEY_ARN, kms_key_arn, "--kms-key-arn",
               "a key ARN such as arn:aws:kms:eu-west-1:210987654321:key/1234abcd-... (not an alias)")
    if kms_key_arn and create_kms_key:
        raise UsageError("--kms-key-arn and --create-kms-key exclude each other",
                         hint="use an existing key (--kms-key-arn) or let the data template create one")
    if writer_role is not None:
        _check(_ROLE_NAME, writer_role, "--writer-role", "an IAM role name such as ddbvault-writer")
    if external_id is not None:
        _check(_EXTERNAL_ID, external_id, "--external-id", "2-1224 characters of letters, digits and +=,.@:/-")
        if writer_role is None:
            raise UsageError("--external-id applies to the role assumed in the data account",
                             hint="add --writer-role NAME, or drop --external-id")


def _tables(values, prod_account: str, region: str) -> tuple[Table, ...]:
    if not values:
        raise UsageError("no --table given", hint="name each table to back up with --table NAME")
    tables = {}
    for value in values:
        table = _table(value, prod_account, region)
        tables.setdefault(table.arn, table)
    return tuple(tables.values())


def _table(value: str, prod_account: str, region: str) -> Table:
    ref = parse_table_ref(value, what="--table")
    if ref.arn is not None:
        if ref.account != prod_account:
            raise UsageError(f"invalid --table {value!r}: the table is in account {ref.account}, "
                             f"not the production account {prod_account}",
                             hint="back up tables of --prod-account only")
        if ref.partition != partition_of(ref.region):
            raise UsageError(f"invalid --table {value!r}: region {ref.region} is in partition "
                             f"{partition_of(ref.region)}, not {ref.partition}", hint="check the ARN's partition")
        return Table(name=ref.name, region=ref.region, arn=ref.arn)
    name = ref.name
    if name == DOCTOR_DIR:
        raise UsageError(f"invalid --table {name!r}: the key prefix {DOCTOR_DIR}/ is kept for `ddbvault doctor`")
    return Table(name=name, region=region,
                 arn=f"arn:{partition_of(region)}:dynamodb:{region}:{prod_account}:table/{name}")


def _prefix(prefix: str) -> str:
    prefix = (prefix or "").strip("/")
    if prefix:
        _check(_PREFIX, prefix, "--prefix", "key path segments without '*', '?', '$' or empty segments")
        if any(part in (".", "..") for part in prefix.split("/")):  # backup's destination refuses them too
            raise UsageError(f"invalid --prefix {prefix[:80]!r}: '.' and '..' parts name no S3 prefix a backup "
                             "can write to", hint="give the prefix of the backups' s3:// destination, e.g. prod")
    return prefix

"""A stand-in for DynamoDB's table exports: an HTTP proxy in front of moto_server.

moto's own ExportTableToPointInTime writes one data file and no manifest files, ignores
INCREMENTAL_EXPORT and needs S3Prefix. This proxy answers ExportTableToPointInTime,
DescribeExport and ListExports itself, the way the DynamoDB API reference and the developer
guide ("DynamoDB table export output format") describe them, and forwards every other request
(DynamoDB or S3, any method) to moto unchanged:

    with ExportStandIn(moto_url) as standin:     # a loopback HTTP server on a free port
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", standin.url)

What an export writes into moto's S3 (S3Bucket, under S3Prefix), as AWS does:
    <S3Prefix>/AWSDynamoDB/<ExportId>/_started                at the start (empty)
    <S3Prefix>/AWSDynamoDB/<ExportId>/data/<name>.json.gz     at the start; DYNAMODB_JSON lines,
        {"Item": {...}} (full) or change records (incremental), at most `items_per_file` a file,
        and at least one file (an empty table gives one empty file, as an empty partition does)
    <S3Prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     when the export completes: JSON lines
        {"itemCount", "md5Checksum" (base64), "etag" (hex MD5), "dataFileS3Key"}
    <S3Prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   when it completes, last
  ExportId is `<14-digit epoch ms>-<8 hex>`; the ExportArn `<TableArn>/export/<ExportId>`.
  ExportManifest (in DescribeExport) is the key of manifest-summary.json. Keys in the manifests
  (dataFileS3Key, manifestFilesS3Key) are full object keys, S3Prefix included. The objects carry
  S3SseAlgorithm/S3SseKmsKeyId as their server-side encryption, and, with S3BucketOwner, the
  bucket-owner-full-control ACL. The `.checksum` files AWS also writes are not written.

The API, as documented (errors are DynamoDB's JSON errors, HTTP 400):
- ExportTableToPointInTime answers IN_PROGRESS. DescribeExport answers IN_PROGRESS until the
  `polls_to_complete`-th DescribeExport of that export (default 2: the second poll sees the end),
  which turns it COMPLETED (or FAILED) and writes the manifests. ListExports (TableArn,
  MaxResults, NextToken) lists ExportSummaries and never advances an export.
- ClientToken: the same token with the same parameters is the same export (its description as it
  is now); with other parameters, IdempotentParameterMismatchException (the contract ddbvault
  codes against; the API reference's text for ClientToken names ImportConflictException, which is
  not among the operation's documented errors). Tokens never expire here (AWS: 8 hours).
- TableNotFoundException for an unknown table; PointInTimeRecoveryUnavailableException when
  DescribeContinuousBackups (forwarded to moto; UpdateContinuousBackups turns PITR on) says PITR
  is off; InvalidExportTimeException when ExportTime (default: now) or the incremental window is
  outside [EarliestRestorableDateTime, now]; ValidationException for a malformed request: an
  incremental window shorter than 15 minutes or longer than 24 hours, or reversed, ExportTime with
  INCREMENTAL_EXPORT, no IncrementalExportSpecification, ExportFormat ION (the stand-in writes
  DYNAMODB_JSON only). DescribeExport of an unknown ARN: ExportNotFoundException.
- S3 problems end the export FAILED, as on AWS, where the bucket is written asynchronously: no
  such bucket -> FailureCode S3NoSuchBucket; S3BucketOwner given and not the bucket's account ->
  S3AccessDenied (the stand-in asks moto which account's bucket list holds it).

Where it is a stand-in:
- A FULL_EXPORT is a consistent snapshot of the table at ExportTime on AWS; the stand-in Scans
  the table (ConsistentRead) when the export starts, so it exports the table as it is then,
  whatever ExportTime says (a test that writes after starting an export sees nothing of it).
- moto's PITR window starts when PITR is turned on, so a test cannot ask for an incremental
  window in the past: set `standin.earliest_restorable` (epoch seconds) to widen it.
- INCREMENTAL_EXPORT: the changes come from the writes that pass through this proxy (PutItem,
  UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems answered 200), not from moto:
  under one lock per proxy, each write's items are read (BatchGetItem, consistent) before and
  after it is forwarded, and recorded with the time it was answered (microseconds). So the
  table needs no stream, but writes that bypass the proxy are not seen, and writes through the
  proxy are serialized. `record_changes=False` turns this off (and saves the reads).
  Records are compacted to one per item per window [ExportFromTime, ExportToTime), as AWS does:
  Keys, NewImage (the last after-image, absent when the item ends deleted) and, with
  NEW_AND_OLD_IMAGES, OldImage (the before-image of the first change, absent when the item did
  not exist), Metadata.WriteTimestampMicros of the last change. An item created and deleted
  within the window is left out (no net change).
- Identity: the stand-in acts as the caller (the access key and region of the request's
  Authorization header), for its own DynamoDB calls and its S3 writes, and moto, without IAM
  enforcement, places the caller in its account from the access key. Signatures are not
  recomputed, so it needs moto without IAM enforcement (as the throttle proxy's
  `unprocessed_every` does).
- BilledSizeBytes is the size of the exported JSON lines, uncompressed.

Knobs (thread-safe to set between requests):
- `fail_next_export(code, message)`: the next export started ends FAILED with that FailureCode and
  FailureMessage (after `polls_to_complete` polls); it writes `_started` only.
- `corrupt_next_export("md5")`: the next export's first data file is rewritten after its MD5 was
  recorded in manifest-files.json: the same items gzip-compressed with another header timestamp,
  so the object is still a valid gzip of the right lines and only a checksum check can tell.
- `polls_to_complete = N` (>= 1): the poll that ends an export; a huge N keeps it IN_PROGRESS.
- `items_per_file` (default 1000), `earliest_restorable` (see above).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import os
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import boto3

from tests.support.loopback import LoopbackServer

PREFIX = "com.amazonaws.dynamodb.v20120810#"
OWN = {"ExportTableToPointInTime", "DescribeExport", "ListExports"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "expect"}
MIN_WINDOW_S, MAX_WINDOW_S = 15 * 60, 24 * 3600
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/")


class ApiError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Caller:
    """Who sent a request: moto places it in an account by its access key."""

    access_key: str
    region: str


@dataclass
class Export:
    description: dict
    request: dict  # the request without ClientToken, to compare a reused token's parameters
    caller: Caller
    files: list[dict] = field(default_factory=list)  # manifest-files.json lines
    failure: tuple[str, str] | None = None
    polls: int = 0
    summary: dict = field(default_factory=dict)  # manifest-summary.json, less the end fields
    put_args: dict = field(default_factory=dict)  # SSE and ACL arguments of every PutObject


def _now() -> float:
    return time.time()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


class ExportStandIn(LoopbackServer):
    def __init__(self, moto_url: str, *, record_changes: bool = True):
        self.moto_url = moto_url
        self.upstream = urlsplit(moto_url)
        self.polls_to_complete = 2
        self.items_per_file = 1000
        self.earliest_restorable: float | None = None
        self.record_changes = record_changes
        self.exports: dict[str, Export] = {}  # by ExportArn, in start order
        self.changes: list[tuple[str, str, str, int, dict | None, dict | None]] = []
        # (region, table, key as canonical JSON, time in µs, before-image, after-image)
        self._tokens: dict[str, str] = {}  # ClientToken -> ExportArn
        self._fail_next: tuple[str, str] | None = None
        self._corrupt_next: str | None = None
        self._lock = threading.RLock()  # export state
        self._write_lock = threading.Lock()  # serializes recorded writes
        self._key_names: dict[tuple[str, str], list[str]] = {}
        super().__init__(_handler(self))

    # -- knobs
    def fail_next_export(self, code: str, message: str) -> None:
        with self._lock:
            self._fail_next = (code, message)

    def corrupt_next_export(self, how: str = "md5") -> None:
        if how != "md5":
            raise ValueError(f"unknown corruption {how!r}: only 'md5'")
        with self._lock:
            self._corrupt_next = how

    # -- upstream
    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    def ddb(self, caller: Caller, op: str, body: dict) -> dict:
        """One DynamoDB call to moto as `caller`, raw JSON in and out (binary values stay base64);
        an error answer is raised as ApiError."""
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": f"DynamoDB_20120810.{op}",
                   "Authorization": f"AWS4-HMAC-SHA256 Credential={caller.access_key}/20200101/{caller.region}"
                                    "/dynamodb/aws4_request, SignedHeaders=host, Signature=0"}
        status, _, payload = self.forward("POST", "/", headers, json.dumps(body).encode())
        answer = json.loads(payload or b"{}")
        if status != 200:
            raise ApiError(str(answer.get("__type", "")).rpartition("#")[2] or str(status),
                           answer.get("message") or answer.get("Message") or "")
        return answer

    def s3(self, caller: Caller):
        return boto3.client("s3", endpoint_url=self.moto_url, region_name=caller.region,
                            aws_access_key_id=caller.access_key, aws_secret_access_key="stand-in")

    def key_names(self, caller: Caller, table: str) -> list[str]:
        if (caller.region, table) not in self._key_names:
            schema = self.ddb(caller, "DescribeTable", {"TableName": table})["Table"]["KeySchema"]
            self._key_names[(caller.region, table)] = [k["AttributeName"] for k in schema]
        return self._key_names[(caller.region, table)]

    # -- the three operations
    def handle(self, op: str, caller: Caller, body: dict) -> dict:
        if op == "ExportTableToPointInTime":
            return {"ExportDescription": self.start_export(caller, body)}
        if op == "DescribeExport":
            return {"ExportDescription": self.describe_export(body.get("ExportArn", ""))}
        return self.list_exports(body)

    def start_export(self, caller: Caller, body: dict) -> dict:
        request = {k: v for k, v in body.items() if k != "ClientToken"}
        token = body.get("ClientToken")
        with self._lock:
            if token and token in self._tokens:
                export = self.exports[self._tokens[token]]
                if export.request != request:
                    raise ApiError("IdempotentParameterMismatchException",
                                   "ClientToken was already used with other parameters")
                return dict(export.description)
        if not body.get("S3Bucket") or not body.get("TableArn"):
            raise ApiError("ValidationException", "TableArn and S3Bucket are required")
        table_arn = body["TableArn"]
        table_name = table_arn.split(":table/", 1)[-1]
        try:
            table = self.ddb(caller, "DescribeTable", {"TableName": table_name})["Table"]
        except ApiError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ApiError("TableNotFoundException", f"Table not found: {table_arn}") from None
            raise
        incremental, export_time = self._check_request(caller, table_name, body)
        started = _now()
        export_id = f"{int(started * 1000):014d}-{os.urandom(4).hex()}"
        root = "/".join(p for p in (body.get("S3Prefix", "").strip("/"), "AWSDynamoDB", export_id) if p)
        description = {
            "ExportArn": f"{table['TableArn']}/export/{export_id}", "ExportStatus": "IN_PROGRESS",
            "StartTime": started, "ExportManifest": f"{root}/manifest-summary.json",
            "TableArn": table["TableArn"], "TableId": table.get("TableId", ""),
            "S3Bucket": body["S3Bucket"], "S3SseAlgorithm": body.get("S3SseAlgorithm", "AES256"),
            "ExportFormat": "DYNAMODB_JSON", "ExportType": body.get("ExportType", "FULL_EXPORT")}
        for name in ("ClientToken", "S3BucketOwner", "S3Prefix", "S3SseKmsKeyId", "IncrementalExportSpecification"):
            if body.get(name) is not None:
                description[name] = body[name]
        if not incremental:
            description["ExportTime"] = export_time
        with self._lock:
            failure, self._fail_next = self._fail_next, None
            corrupt, self._corrupt_next = self._corrupt_next, None
        export = Export(description, request, caller, failure=failure)
        export.failure = self._write_start(export, root, table_name, incremental, corrupt)
        with self._lock:
            self.exports[description["ExportArn"]] = export
            if token:
                self._tokens[token] = description["ExportArn"]
            return dict(description)

    def _check_request(self, caller: Caller, table: str, body: dict) -> tuple[dict | None, float]:
        """(IncrementalExportSpecification or None, ExportTime), or ApiError for a refused request."""
        if body.get("ExportFormat", "DYNAMODB_JSON") != "DYNAMODB_JSON":
            raise ApiError("ValidationException", "the export stand-in writes DYNAMODB_JSON only")
        backups = self.ddb(caller, "DescribeContinuousBackups", {"TableName": table})["ContinuousBackupsDescription"]
        pitr = backups.get("PointInTimeRecoveryDescription") or {}
        if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
            raise ApiError("PointInTimeRecoveryUnavailableException",
                           f"Point in time recovery is not enabled for table '{table}'")
        earliest = self.earliest_restorable
        earliest = float(pitr.get("EarliestRestorableDateTime", 0)) if earliest is None else earliest
        now = _now()
        if body.get("ExportType", "FULL_EXPORT") == "FULL_EXPORT":
            export_time = float(body.get("ExportTime", now))
            if not earliest <= export_time <= now:
                raise ApiError("InvalidExportTimeException",
                               f"ExportTime {_iso(export_time)} is outside the point in time recovery window "
                               f"[{_iso(earliest)}, {_iso(now)}]")
            return None, export_time
        spec = body.get("IncrementalExportSpecification")
        if body.get("ExportType") != "INCREMENTAL_EXPORT" or not spec or "ExportTime" in body:
            raise ApiError("ValidationException", "an INCREMENTAL_EXPORT needs IncrementalExportSpecification "
                                                  "and no ExportTime; ExportType is FULL_EXPORT or INCREMENTAL_EXPORT")
        start, end = float(spec.get("ExportFromTime", 0)), float(spec.get("ExportToTime", now))
        if not MIN_WINDOW_S <= end - start <= MAX_WINDOW_S:
            raise ApiError("ValidationException", "the incremental export window (ExportToTime - ExportFromTime) "
                                                  "must be between 15 minutes and 24 hours")
        if not earliest <= start or end > now:
            raise ApiError("InvalidExportTimeException",
                           f"the window [{_iso(start)}, {_iso(end)}] is outside the point in time recovery "
                           f"window [{_iso(earliest)}, {_iso(now)}]")
        return {"ExportFromTime": start, "ExportToTime": end,
                "ExportViewType": spec.get("ExportViewType", "NEW_AND_OLD_IMAGES")}, 0.0

    def _write_start(self, export: Export, root: str, table: str, incremental: dict | None,
                     corrupt: str | None) -> tuple[str, str] | None:
        """_started and the data files; the FailureCode/Message of an S3 problem, else None."""
        d, caller = export.description, export.caller
        s3 = self.s3(caller)
        if not self._bucket_exists(s3, d["S3Bucket"]):
            return "S3NoSuchBucket", f"The specified bucket does not exist: {d['S3Bucket']}"
        owner = d.get("S3BucketOwner")
        if owner and not self._bucket_in_account(caller, d["S3Bucket"], owner):
            return "S3AccessDenied", f"Access denied to bucket {d['S3Bucket']}: it is not owned by account {owner}"
        extra = {"ServerSideEncryption": "aws:kms" if d["S3SseAlgorithm"] == "KMS" else "AES256"}
        if d.get("S3SseKmsKeyId"):
            extra["SSEKMSKeyId"] = d["S3SseKmsKeyId"]
        if owner:
            extra["ACL"] = "bucket-owner-full-control"
        export.put_args = extra
        put = lambda key, data: s3.put_object(Bucket=d["S3Bucket"], Key=key, Body=data, **extra)  # noqa: E731
        put(f"{root}/_started", b"")
        if export.failure:
            return export.failure
        lines = self._change_lines(caller.region, table, incremental) if incremental else self._item_lines(caller, table)
        size = self.items_per_file
        for start in range(0, max(len(lines), 1), size):
            chunk = b"".join(line + b"\n" for line in lines[start:start + size])
            data = gzip.compress(chunk, mtime=0)
            key = f"{root}/data/{base64.b32encode(os.urandom(15)).decode().lower()}.json.gz"
            digest = hashlib.md5(data)
            if corrupt and start == 0:  # same lines, other gzip header bytes: only the MD5 tells
                data = gzip.compress(chunk, mtime=1)
            put(key, data)
            export.files.append({"itemCount": len(lines[start:start + size]),
                                 "md5Checksum": base64.b64encode(digest.digest()).decode(),
                                 "etag": digest.hexdigest(), "dataFileS3Key": key})
        export.summary = {
            "version": "2020-06-30" if not incremental else "2023-08-01", "exportArn": d["ExportArn"],
            "startTime": _iso(d["StartTime"]), "tableArn": d["TableArn"], "tableId": d["TableId"],
            "s3Bucket": d["S3Bucket"], "s3Prefix": d.get("S3Prefix"), "s3SseAlgorithm": d["S3SseAlgorithm"],
            "s3SseKmsKeyId": d.get("S3SseKmsKeyId"), "manifestFilesS3Key": f"{root}/manifest-files.json",
            "billedSizeBytes": sum(len(line) for line in lines), "itemCount": len(lines),
            "outputFormat": "DYNAMODB_JSON", "exportType": d["ExportType"]}
        if incremental:
            export.summary.update(exportFromTime=_iso(incremental["ExportFromTime"]),
                                  exportToTime=_iso(incremental["ExportToTime"]),
                                  outputView=incremental["ExportViewType"])
        else:
            export.summary["exportTime"] = _iso(d["ExportTime"])
        return None

    @staticmethod
    def _bucket_exists(s3, bucket: str) -> bool:
        try:
            s3.head_bucket(Bucket=bucket)
            return True
        except s3.exceptions.ClientError:
            return False

    def _bucket_in_account(self, caller: Caller, bucket: str, account: str) -> bool:
        """Whether `account` owns `bucket`: moto lists an account's own buckets to a principal of it."""
        sts = boto3.client("sts", endpoint_url=self.moto_url, region_name=caller.region,
                           aws_access_key_id=caller.access_key, aws_secret_access_key="stand-in")
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/export-stand-in",
                                RoleSessionName="export-stand-in")["Credentials"]
        s3 = boto3.client("s3", endpoint_url=self.moto_url, region_name=caller.region,
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
        return any(b["Name"] == bucket for b in s3.list_buckets()["Buckets"])

    def _item_lines(self, caller: Caller, table: str) -> list[bytes]:
        lines, args = [], {"TableName": table, "ConsistentRead": True}
        while True:
            page = self.ddb(caller, "Scan", args)
            lines += [json.dumps({"Item": item}, separators=(",", ":")).encode() for item in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return lines
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _change_lines(self, region: str, table: str, spec: dict) -> list[bytes]:
        start_us, end_us = int(spec["ExportFromTime"] * 1e6), int(spec["ExportToTime"] * 1e6)
        final: dict[str, list] = {}  # key -> [micros, first before-image, last after-image]
        with self._lock:
            changes = sorted((c for c in self.changes if c[:2] == (region, table) and start_us <= c[3] < end_us),
                             key=lambda c: c[3])
        for _, _, key, micros, before, after in changes:
            entry = final.setdefault(key, [micros, before, after])
            entry[0], entry[2] = micros, after
        lines = []
        for key, (micros, before, after) in sorted(final.items()):
            if before is None and after is None:
                continue  # created and deleted within the window: no net change
            record = {"Metadata": {"WriteTimestampMicros": {"N": str(micros)}}, "Keys": json.loads(key)}
            if after is not None:
                record["NewImage"] = after
            if before is not None and spec["ExportViewType"] == "NEW_AND_OLD_IMAGES":
                record["OldImage"] = before
            lines.append(json.dumps(record, separators=(",", ":")).encode())
        return lines

    def describe_export(self, arn: str) -> dict:
        with self._lock:
            export = self.exports.get(arn)
            if export is None:
                raise ApiError("ExportNotFoundException", f"Export not found: {arn}")
            if export.description["ExportStatus"] == "IN_PROGRESS":
                export.polls += 1
                if export.polls >= self.polls_to_complete:
                    self._finish(export)
            return dict(export.description)

    def _finish(self, export: Export) -> None:
        d = export.description
        d["EndTime"] = _now()
        if export.failure:
            d.update(ExportStatus="FAILED", FailureCode=export.failure[0], FailureMessage=export.failure[1])
            return
        s3 = self.s3(export.caller)
        summary = dict(export.summary, endTime=_iso(d["EndTime"]))
        s3.put_object(Bucket=d["S3Bucket"], Key=summary["manifestFilesS3Key"],
                      Body=b"".join(json.dumps(f).encode() + b"\n" for f in export.files), **export.put_args)
        s3.put_object(Bucket=d["S3Bucket"], Key=d["ExportManifest"], Body=json.dumps(summary).encode(),
                      **export.put_args)
        d.update(ExportStatus="COMPLETED", ItemCount=summary["itemCount"], BilledSizeBytes=summary["billedSizeBytes"])

    def list_exports(self, body: dict) -> dict:
        with self._lock:
            arns = [arn for arn, e in self.exports.items()
                    if body.get("TableArn") in (None, e.description["TableArn"])]
            start = int(body.get("NextToken") or 0)
            end = start + int(body.get("MaxResults") or 25)
            page = [{"ExportArn": arn, "ExportStatus": self.exports[arn].description["ExportStatus"],
                     "ExportType": self.exports[arn].description["ExportType"]} for arn in arns[start:end]]
        return {"ExportSummaries": page, **({"NextToken": str(end)} if end < len(arns) else {})}

    # -- recording writes for incremental exports
    def write_keys(self, caller: Caller, op: str, body: dict) -> list[tuple[str, dict]]:
        """(table, key) of every item a write request touches."""
        def project(table: str, item: dict) -> dict:
            return {name: item[name] for name in self.key_names(caller, table) if name in item}
        if op == "PutItem":
            return [(body["TableName"], project(body["TableName"], body["Item"]))]
        if op in ("UpdateItem", "DeleteItem"):
            return [(body["TableName"], body["Key"])]
        if op == "BatchWriteItem":
            return [(table, r["DeleteRequest"]["Key"] if "DeleteRequest" in r else project(table, r["PutRequest"]["Item"]))
                    for table, requests in body.get("RequestItems", {}).items() for r in requests]
        touched = []
        for entry in body.get("TransactItems", []):
            for kind, action in entry.items():
                if kind in ("Put", "Update", "Delete"):
                    table = action["TableName"]
                    touched.append((table, action["Key"] if "Key" in action else project(table, action["Item"])))
        return touched

    def images(self, caller: Caller, touched: list[tuple[str, dict]]) -> dict[tuple[str, str], dict]:
        """The current items at `touched` keys, by (table, canonical key JSON); absent ones left out."""
        wanted: dict[str, dict[str, dict]] = {}
        for table, key in touched:
            wanted.setdefault(table, {})[_canonical(key)] = key
        found = {}
        for table, keys in wanted.items():
            keys = list(keys.values())
            for start in range(0, len(keys), 100):
                answer = self.ddb(caller, "BatchGetItem", {"RequestItems": {
                    table: {"Keys": keys[start:start + 100], "ConsistentRead": True}}})
                for item in answer.get("Responses", {}).get(table, []):
                    found[(table, _canonical(project_key(item, self.key_names(caller, table))))] = item
        return found

    def record(self, caller: Caller, touched, before: dict, after: dict) -> None:
        micros = time.time_ns() // 1000
        with self._lock:
            for table, key in {(t, _canonical(k)): None for t, k in touched}:
                self.changes.append((caller.region, table, key, micros,
                                     before.get((table, key)), after.get((table, key))))


def project_key(item: dict, names: list[str]) -> dict:
    return {name: item[name] for name in names}


def _canonical(key: dict) -> str:
    return json.dumps(key, sort_keys=True, separators=(",", ":"))


def _caller(headers) -> Caller:
    match = _CREDENTIAL.search(headers.get("Authorization") or "")
    return Caller(*match.groups()) if match else Caller("testing", "us-east-1")


def _handler(standin: ExportStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            op = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            target_ddb = (self.headers.get("X-Amz-Target") or "").startswith("DynamoDB_")
            if target_ddb and op in OWN:
                return self._own(op, body)
            if target_ddb and op in WRITES and standin.record_changes:
                return self._recorded(op, body)
            self._reply(*standin.forward(self.command, self.path, self._headers(body), body))

        do_GET = do_PUT = do_HEAD = do_DELETE = do_POST

        def _headers(self, body: bytes) -> dict[str, str]:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            return headers

        def _own(self, op: str, body: bytes) -> None:
            try:
                answer, status = standin.handle(op, _caller(self.headers), json.loads(body or b"{}")), 200
            except ApiError as exc:
                answer, status = {"__type": PREFIX + exc.code, "message": exc.message}, 400
            payload = json.dumps(answer).encode()
            self._reply(status, [("Content-Type", "application/x-amz-json-1.0"),
                                 ("x-amzn-RequestId", os.urandom(16).hex().upper()),
                                 ("x-amz-crc32", str(zlib.crc32(payload)))], payload)

        def _recorded(self, op: str, body: bytes) -> None:
            caller, request = _caller(self.headers), json.loads(body or b"{}")
            with standin._write_lock:
                try:
                    touched = standin.write_keys(caller, op, request)
                    before = standin.images(caller, touched)
                except (ApiError, KeyError, TypeError, AttributeError):  # moto answers it (an error)
                    touched = None
                status, headers, payload = standin.forward(self.command, self.path, self._headers(body), body)
                if status == 200 and touched is not None:
                    standin.record(caller, touched, before, standin.images(caller, touched))
            self._reply(status, headers, payload)

        def _reply(self, status: int, headers, payload: bytes) -> None:
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            length = dict((k.lower(), v) for k, v in headers).get("content-length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    return Handler

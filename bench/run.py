"""ddbvault benchmark: ddbvault backup and restore vs raw floors vs dynamodump, on a local dynalite.

Every run is self-contained: it starts dynalite (and moto_server for S3), creates and loads a
fresh table of N ~1 KB items, runs each backup contender as a separate child process measured
with os.wait4 (wall, user+sys CPU, peak RSS), then restores the backups it made into fresh
tables (ddbvault restore, a raw BatchWriteItem floor, dynamodump's restore), measured the same
way. It checks every item count, prints tables with the issue's target ratios marked PASS/FAIL,
and stops everything it started. Only the dynamodump venv (bench/.work/venv-dynamodump) is kept
between runs.

    .venv/bin/python bench/run.py                      # 100k items, 4 segments, 1 repetition
    .venv/bin/python bench/run.py --repeat 3 --json-out bench/results/latest.json
    .venv/bin/python bench/run.py --no-restore         # the backup half only
    .venv/bin/python bench/run.py --rss-scale          # also 1M items, for the RSS-scaling target
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import contenders as cs
import dataset
import line_cost as restore_line_cost
import peers
import report
from measure import machine_busy_s, process_cpu_s, run_measured
from restored import RestoreCheck
from wire import DynamoDBWire

BACKUP_CONTENDERS = ("raw_floor", "ddbvault_dir", "ddbvault_s3", "dynamodump")
RESTORE_CONTENDERS = ("raw_restore_floor", "ddbvault_restore", "dynamodump_restore")
ALL_CONTENDERS = BACKUP_CONTENDERS + RESTORE_CONTENDERS
NEEDS_DDBVAULT_BACKUP = ("raw_restore_floor", "ddbvault_restore")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0],
        epilog="Targets: ddbvault wall / raw floor wall <= 1.3 (local dir and S3 each); ddbvault "
               "CPU per item / dynamodump CPU per item <= 0.35; ddbvault peak RSS at 1M items / "
               "at N items <= 1.2 (needs --rss-scale); ddbvault restore wall / dynamodump restore "
               "wall <= 0.5; ddbvault restore CPU per item / dynamodump restore CPU per item "
               "<= 0.4. See bench/README.md.")
    parser.add_argument("--items", type=int, default=100_000, help="items in the table (default 100000)")
    parser.add_argument("--segments", type=int, default=4,
                        help="parallel Scan segments (and ddbvault --workers) (default 4)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per contender, round-robin; the best wall is reported (default 1)")
    parser.add_argument("--item-bytes", type=int, default=dataset.TARGET_ITEM_BYTES,
                        help=f"mean DynamoDB item size to aim for (default {dataset.TARGET_ITEM_BYTES})")
    parser.add_argument("--contenders", default=",".join(ALL_CONTENDERS),
                        help=f"comma-separated subset of {','.join(ALL_CONTENDERS)} (default: all); "
                             "the last three are the restore contenders")
    parser.add_argument("--no-restore", action="store_true",
                        help="skip the restore contenders (the backup half only)")
    parser.add_argument("--restore-workers", type=int,
                        help="threads of ddbvault restore (--workers) and of the raw restore floor "
                             "(default: --segments); a backup with fewer data objects than this "
                             "is made again with --segments of this many, unmeasured")
    parser.add_argument("--restore-sample", type=int, default=200,
                        help="items per restored table compared with the source (default 200)")
    parser.add_argument("--rss-scale", action="store_true",
                        help="also load a table of --rss-scale-items and compare ddbvault's peak RSS "
                             "there with its RSS at --items (takes several minutes)")
    parser.add_argument("--rss-scale-items", type=int, default=1_000_000,
                        help="items in the --rss-scale table (default 1000000)")
    parser.add_argument("--load-processes", type=int, default=os.cpu_count() or 2,
                        help="processes building and writing items (default: CPU count)")
    parser.add_argument("--load-threads", type=int, default=4,
                        help="BatchWriteItem threads per loading process (default 4)")
    parser.add_argument("--ddbvault-args", default="",
                        help="extra options appended to every `ddbvault backup`, as one "
                             "argument: --ddbvault-args=\"--compression-level 1\"")
    parser.add_argument("--ddbvault-restore-args", default="",
                        help="extra options appended to every `ddbvault restore`, as one argument")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before a contender is killed (default 1800)")
    parser.add_argument("--json-out", type=Path, help="also write all results as JSON to this file")
    args = parser.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    if args.no_restore:
        args.contenders = [c for c in args.contenders if c not in RESTORE_CONTENDERS]
    args.restore_workers = args.restore_workers or args.segments
    if args.rss_scale and "ddbvault_dir" not in args.contenders:
        args.contenders.append("ddbvault_dir")  # the RSS target compares against its N-item run
    if min(args.items, args.segments, args.repeat, args.restore_workers) < 1:
        parser.error("--items, --segments, --repeat and --restore-workers must be positive")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Phases:
    """Wall time of each phase of the run, in order."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str):
        log(f"{name} ...")
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 2)
            log(f"{name}: {self.seconds[name]:.1f}s")


def clean_env(dynamodb_url: str) -> dict[str, str]:
    """The caller's environment without its AWS settings, plus dummy credentials for local servers."""
    from ddbvault.devtools.local_servers import local_aws_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(local_aws_env(dynamodb_url))
    return env


def measure_once(contender: cs.Contender, scratch_root: Path, rep: int, timeout: float,
                 server_pids: list[int]) -> dict:
    """One measured run in a fresh scratch dir, which is deleted afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{contender.key}-{rep}-", dir=scratch_root))
    try:
        argv = contender.argv_for(scratch, rep)
        servers_before, busy_before = _servers_cpu_s(server_pids), machine_busy_s()
        m = run_measured(argv, contender.env, cwd=str(scratch), timeout_s=timeout)
        server_cpu = _servers_cpu_s(server_pids) - servers_before
        busy_after = machine_busy_s()
        other = (None if busy_before is None or busy_after is None
                 else max(0.0, busy_after - busy_before - m.cpu_s - server_cpu))
        run = {"rep": rep, **m.summary(), "rss_mib": round(m.rss_mib, 1),
               "server_cpu_s": round(server_cpu, 2),
               "other_cpu_s": None if other is None else round(other, 2),
               "items": None, "error": None}
        if m.returncode != 0:
            run["error"] = ("timed out" if m.timed_out else f"exit {m.returncode}: "
                            + (m.stderr_tail.strip().splitlines() or [""])[-1][:300])
            return run
        try:
            run["items"], run["details"] = contender.read_result(m.stdout, scratch)
        except (ValueError, KeyError, OSError, RuntimeError) as exc:  # WireError is a RuntimeError
            run["error"] = f"unreadable result: {exc}"
            return run
        if contender.keep:
            try:
                contender.keep(scratch, run["details"])
            except (OSError, KeyError, ValueError) as exc:  # the restore half makes its own then
                log(f"  {contender.key}: could not keep its output for the restores: {exc}")
        return run
    finally:
        try:
            if contender.cleanup:
                contender.cleanup(scratch)
        except Exception as exc:  # a table left behind costs memory, not correctness
            log(f"  {contender.key}: cleanup failed: {exc}")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


def _servers_cpu_s(pids: list[int]) -> float:
    return sum(process_cpu_s(pid) or 0.0 for pid in pids)


def summarize(contender: cs.Contender, runs: list[dict], expected: int) -> report.ContenderResult:
    result = report.ContenderResult(contender.key, contender.label, "ok", expected,
                                    runs=runs, notes=list(contender.notes))
    good = [r for r in runs if r["error"] is None]
    if not good:
        result.status = f"failed: {runs[0]['error']}"
        return result
    best = min(good, key=lambda r: r["wall_s"])
    result.items, result.wall_s, result.cpu_s = best["items"], best["wall_s"], best["cpu_s"]
    result.rss_mib, result.server_cpu_s = best["rss_mib"], best["server_cpu_s"]
    result.other_cpu_s = best.get("other_cpu_s")
    result.details = best.pop("details", {})
    for r in good:
        r.pop("details", None)
    if best["items"] != expected:
        result.status = f"incomplete: {best['items']:,} of {expected:,} items"
    elif len(good) < len(runs):
        result.notes.append(f"{len(runs) - len(good)} of {len(runs)} runs failed")
    return result


def run_contenders(chosen: list[cs.Contender], expected: int, args, scratch: Path,
                   servers: cs.Servers, phases: Phases, tag: str) -> dict[str, report.ContenderResult]:
    """Round-robin over repetitions so that drift affects every contender alike."""
    runs: dict[str, list[dict]] = {c.key: [] for c in chosen}
    for rep in range(args.repeat):
        for c in chosen:
            if c.unavailable:
                continue
            with phases(f"{tag}{c.key} run {rep + 1}/{args.repeat}"):
                run = measure_once(c, scratch, rep, args.timeout, servers.pids)
            runs[c.key].append(run)
            log(f"  {c.key}: wall {run['wall_s']:.2f}s cpu {run['cpu_s']:.2f}s "
                f"server cpu {run['server_cpu_s']:.2f}s other cpu {run['other_cpu_s']}s "
                f"rss {run['rss_mib']:.0f} MiB items {run['items']} {run['error'] or ''}")
    results = {}
    for c in chosen:
        if c.unavailable:
            results[c.key] = report.ContenderResult(c.key, c.label, f"not available: {c.unavailable}",
                                                    expected, notes=list(c.notes))
        else:
            results[c.key] = summarize(c, runs[c.key], expected)
    return results


def build_contenders(args, table: str, servers: cs.Servers, ddbvault_missing: str | None,
                     dump_missing: str | None,
                     sources: cs.RestoreSources | None = None) -> list[cs.Contender]:
    """The backup contenders; with `sources`, the ddbvault_dir and dynamodump runs keep their
    output there for the restore contenders."""
    s3_missing = ddbvault_missing or (None if servers.moto_url else "no moto_server")
    keep_backup = sources.keep_backup if sources else None
    keep_dump = sources.keep_dump if sources else None
    made = {
        "raw_floor": lambda: cs.raw_floor(table, args.segments, servers),
        "ddbvault_dir": lambda: cs.ddbvault(table, args.segments, servers, False, ddbvault_missing,
                                            keep=keep_backup),
        "ddbvault_s3": lambda: cs.ddbvault(table, args.segments, servers, True, s3_missing),
        "dynamodump": lambda: cs.dynamodump(table, servers, dump_missing, keep=keep_dump),
    }
    return [made[key]() for key in BACKUP_CONTENDERS if key in args.contenders]


def prepare_dynamodump(args, phases: Phases) -> str | None:
    if not {"dynamodump", "dynamodump_restore"} & set(args.contenders):
        return None
    with phases("dynamodump venv"):
        try:
            peers.ensure_dynamodump(log)
        except Exception as exc:  # any failure only takes this contender out
            return f"could not install {peers.DYNAMODUMP_REQUIREMENT}: {exc}"
    return None


def load(wire: DynamoDBWire, url: str, table: str, n: int, payload: int, args, phases: Phases) -> dict:
    with phases(f"load {n:,} items"):
        dataset.create_table(wire, table)
        loaded = dataset.load_table(url, table, n, payload, args.load_processes, args.load_threads)
    log(f"  loaded {loaded.items:,} items in {loaded.seconds:.1f}s ({loaded.items_per_s:,.0f} items/s)")
    return {"table": table, "items": loaded.items, "seconds": round(loaded.seconds, 2),
            "items_per_s": round(loaded.items_per_s), "batch_calls": loaded.calls,
            "unprocessed_retries": loaded.unprocessed_retries}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # unwind, so the servers are stopped
        signal.signal(signum, _exit_on_signal)
    phases = Phases()
    started = time.perf_counter()
    dump_missing = prepare_dynamodump(args, phases)
    ddbvault_missing = check_ddbvault(args)
    restore_missing = check_ddbvault_restore(args)
    payload = dataset.payload_for(args.item_bytes)
    if args.rss_scale:  # dynalite keeps every item in its V8 heap; the default cap is ~4 GB
        os.environ.setdefault("NODE_OPTIONS", "--max-old-space-size=16384")

    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ddbvault-bench-")))
        with_moto = bool({"ddbvault_dir", "ddbvault_s3"} & set(args.contenders)) and not ddbvault_missing
        servers = start_servers(stack, scratch, with_moto, args, phases)
        wire = DynamoDBWire(servers.dynamodb_url)
        table = f"bench_{args.items}"
        loads = [load(wire, servers.dynamodb_url, table, args.items, payload, args, phases)]
        wants_restore = any(c in RESTORE_CONTENDERS for c in args.contenders)
        sources = cs.RestoreSources(table, scratch / "restore-sources") if wants_restore else None
        chosen = build_contenders(args, table, servers, ddbvault_missing, dump_missing, sources)
        results = run_contenders(chosen, args.items, args, scratch, servers, phases, "")
        restore_results: dict[str, report.ContenderResult] = {}
        line_cost = None
        if sources:  # before --rss-scale drops the source table, which the checks read
            restore_results = run_restore(args, wire, table, scratch, servers, sources,
                                          ddbvault_missing, restore_missing, dump_missing, phases)
            with phases("restore line handling per line (in process)"):
                line_cost = restore_line_cost.measure(min(args.items, 20_000), payload)
        big_results: dict[str, report.ContenderResult] = {}
        if args.rss_scale:
            dataset.delete_table(wire, table)  # frees dynalite's memory for the big table
            big_load, big_results = run_rss_scale(args, wire, scratch, servers, payload,
                                                  ddbvault_missing, phases)
            loads.append(big_load)

    checks = report.targets(results, big_results.get("ddbvault_dir") if args.rss_scale else None,
                            args.rss_scale_items, args.items)
    restore_checks = report.restore_targets(restore_results) if wants_restore else []
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": _environment(),
        "item_size_bytes": dataset.size_stats(payload), "payload_bytes": payload,
        "loads": loads, "phases_s": phases.seconds,
        "total_s": round(time.perf_counter() - started, 1),
        "contenders": [r.to_json() for r in results.values()],
        "rss_scale": [r.to_json() for r in big_results.values()],
        "restore_sources": _sources_json(sources),
        "restore": [r.to_json() for r in restore_results.values()],
        "restore_line_cost_us": line_cost,
        "targets": [t.to_json() for t in checks],
        "restore_targets": [t.to_json() for t in restore_checks],
    }
    print(report.render_run(args, summary, results, big_results, checks, restore_results,
                            restore_checks))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
        log(f"results written to {args.json_out}")
    ran = [r for r in (*results.values(), *restore_results.values(), *big_results.values())
           if not r.status.startswith("not available")]
    return 0 if all(r.ok for r in ran) else 1


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def check_ddbvault(args) -> str | None:
    """Why `ddbvault backup` cannot run, or None; None too when nothing wanted needs it."""
    if not {"ddbvault_dir", "ddbvault_s3", *NEEDS_DDBVAULT_BACKUP} & set(args.contenders):
        return None
    missing = cs.ddbvault_available()
    log(f"ddbvault CLI: {missing or 'available'}")
    return missing


def check_ddbvault_restore(args) -> str | None:
    """Why `ddbvault restore` cannot run, or None; None too when ddbvault_restore is not wanted."""
    if "ddbvault_restore" not in args.contenders:
        return None
    missing = cs.ddbvault_available("restore")
    if missing:
        log(f"ddbvault restore: {missing}")
    return missing


def run_restore(args, wire: DynamoDBWire, table: str, scratch: Path, servers: cs.Servers,
                sources: cs.RestoreSources, ddbvault_missing: str | None,
                restore_missing: str | None, dump_missing: str | None,
                phases: Phases) -> dict[str, report.ContenderResult]:
    """The restore contenders, each into a fresh table per run, from the kept backup and dump."""
    wanted = set(args.contenders)
    backup_missing = dump_source_missing = None
    if wanted & set(NEEDS_DDBVAULT_BACKUP):
        backup_missing = ddbvault_missing or ensure_backup_source(args, table, servers, sources, phases)
    if "dynamodump_restore" in wanted:
        dump_source_missing = dump_missing or ensure_dump_source(args, table, servers, sources, phases)
    check = RestoreCheck(wire, table, args.items, args.restore_sample)
    workers = args.restore_workers
    made = {
        "raw_restore_floor": lambda: cs.raw_restore_floor(sources, workers, servers, wire, check,
                                                          backup_missing),
        "ddbvault_restore": lambda: cs.ddbvault_restore(sources, workers, servers, wire, check,
                                                        restore_missing or backup_missing),
        "dynamodump_restore": lambda: cs.dynamodump_restore(sources, servers, wire, check,
                                                            dump_source_missing),
    }
    chosen = [made[key]() for key in RESTORE_CONTENDERS if key in wanted]
    results = run_contenders(chosen, args.items, args, scratch, servers, phases, "")
    for result in results.values():
        result.notes.extend(_fidelity_notes(result))
    return results


def ensure_backup_source(args, table: str, servers: cs.Servers, sources: cs.RestoreSources,
                         phases: Phases) -> str | None:
    """A local ddbvault backup with at least --restore-workers data objects: the one the
    ddbvault_dir runs kept, or else one made now (unmeasured). Returns why there is none, or None."""
    workers = args.restore_workers
    if sources.backup_url and sources.backup_objects >= workers:
        return None
    target = sources.keep_root / f"ddbvault-backup-{workers}-segments"
    argv = [str(cs.DDBVAULT_EXE), "backup", table, "--to", str(target), "--segments", str(workers),
            "--workers", str(workers), "--read-rcu", "1000000", "--json", *servers.ddbvault_extra]
    env = dict(servers.base_env, AWS_ENDPOINT_URL_DYNAMODB=servers.dynamodb_url)
    with phases(f"restore source: ddbvault backup --segments {workers} (unmeasured)"):
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        return f"ddbvault backup for the restore failed: {(done.stderr.strip().splitlines() or [''])[-1][:200]}"
    try:
        result = cs._last_json_object(done.stdout)
        if int(result["items"]) != args.items:
            return f"ddbvault backup for the restore read {result['items']} items, not {args.items}"
        sources.backup_url, sources.backup_objects = result["url"], int(result["objects"])
    except (ValueError, KeyError) as exc:
        return f"ddbvault backup for the restore: unreadable output: {exc}"
    sources.backup_from = f"an unmeasured `ddbvault backup --segments {workers}`"
    return None


def ensure_dump_source(args, table: str, servers: cs.Servers, sources: cs.RestoreSources,
                       phases: Phases) -> str | None:
    """The dump the dynamodump runs kept, or else one made now (unmeasured, ~1 min at 100k)."""
    if sources.dump_dir:
        return None
    target = sources.keep_root / "dynamodump-dump-unmeasured"
    with phases("restore source: dynamodump backup (unmeasured)"):
        done = subprocess.run(peers.dynamodump_argv(table, servers.dynamodb_url, target),
                              env=dict(servers.base_env), capture_output=True, text=True,
                              timeout=args.timeout, cwd=str(sources.keep_root.parent))
    if done.returncode != 0:
        return f"dynamodump backup for the restore failed: {(done.stderr.strip().splitlines() or [''])[-1][:200]}"
    try:
        dumped = peers.count_dynamodump_items(target, table)
    except (OSError, ValueError, KeyError) as exc:
        return f"dynamodump backup for the restore: unreadable dump: {exc}"
    if dumped != args.items:
        return f"dynamodump backup for the restore dumped {dumped} items, not {args.items}"
    sources.dump_dir, sources.dump_from = target, "an unmeasured dynamodump backup"
    return None


# What dynamodump gets wrong, from reading its restore code (do_restore, process_item_types).
_DYNAMODUMP_BINARY_NOTE = (
    "dynamodump's restore base64-decodes only top-level B values before handing items to boto3, "
    "which base64-encodes binaries itself: every BS value (and any B nested in a map or list) "
    "is stored base64-encoded twice")


def _fidelity_notes(result: report.ContenderResult) -> list[str]:
    details = result.details or {}
    if not details.get("sample_differing"):
        if details.get("sampled"):
            return [f"sample check: {details['sampled']} restored items identical to the source"]
        return []
    attrs = ", ".join(f"{name} ({n})" for name, n in details["differing_attributes"].items())
    notes = [f"sample check: {details['sample_differing']} of {details['sampled']} restored items "
             f"differ from the source, in attributes: {attrs}"]
    if result.key == "dynamodump_restore":
        notes.append(_DYNAMODUMP_BINARY_NOTE)
    return notes


def _sources_json(sources: cs.RestoreSources | None) -> dict | None:
    if sources is None:
        return None
    return {"backup_url": sources.backup_url, "backup_objects": sources.backup_objects,
            "backup_from": sources.backup_from or None,
            "dump_dir": str(sources.dump_dir) if sources.dump_dir else None,
            "dump_from": sources.dump_from or None}


def start_servers(stack: contextlib.ExitStack, scratch: Path, with_moto: bool, args,
                  phases: Phases) -> cs.Servers:
    """dynalite always; moto_server (S3 with the bench bucket, STS) when ddbvault will run."""
    from ddbvault.devtools.local_servers import dynalite, moto_server
    with phases("start servers"):
        ddb = stack.enter_context(dynalite(log_path=scratch / "dynalite.log"))
        moto = stack.enter_context(moto_server(log_path=scratch / "moto.log")) if with_moto else None
    servers = cs.Servers(ddb.url, moto.url if moto else None, clean_env(ddb.url),
                         pids=[s.process.pid for s in (ddb, moto) if s],
                         ddbvault_extra=shlex.split(args.ddbvault_args),
                         ddbvault_restore_extra=shlex.split(args.ddbvault_restore_args))
    if moto:
        _create_bucket(servers)
    return servers


def run_rss_scale(args, wire: DynamoDBWire, scratch: Path, servers: cs.Servers, payload: int,
                  ddbvault_missing: str | None, phases: Phases):
    """Load the big table, then run the raw floor (for scale) and ddbvault to a local dir on it."""
    table = f"bench_{args.rss_scale_items}"
    loaded = load(wire, servers.dynamodb_url, table, args.rss_scale_items, payload, args, phases)
    big_args = argparse.Namespace(**{**vars(args), "contenders": ["raw_floor", "ddbvault_dir"]})
    chosen = build_contenders(big_args, table, servers, ddbvault_missing, None)
    return loaded, run_contenders(chosen, args.rss_scale_items, args, scratch, servers, phases, "big ")


def _create_bucket(servers: cs.Servers) -> None:
    import boto3
    s3 = boto3.client("s3", endpoint_url=servers.moto_url, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=servers.bucket)


def _environment() -> dict:
    import botocore
    return {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "botocore": botocore.__version__,
            "dynalite": _npm_version("dynalite")}


def _npm_version(name: str) -> str | None:
    from ddbvault.devtools.local_servers import find_dynalite
    try:
        package = Path(find_dynalite()).resolve().parent / "package.json"
        return json.loads(package.read_text())["version"]
    except (OSError, RuntimeError, KeyError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())

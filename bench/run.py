"""ddbvault benchmark: ddbvault backup vs a raw Scan floor vs dynamodump, on a local dynalite.

Every run is self-contained: it starts dynalite (and moto_server for S3), creates and loads a
fresh table of N ~1 KB items, runs each contender as a separate child process measured with
os.wait4 (wall, user+sys CPU, peak RSS), checks every item count, prints a table with the
issue's target ratios marked PASS/FAIL, and stops everything it started. Only the dynamodump
venv (bench/.work/venv-dynamodump) is kept between runs.

    .venv/bin/python bench/run.py                      # 100k items, 4 segments, 1 repetition
    .venv/bin/python bench/run.py --repeat 3 --json-out bench/results/latest.json
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
import sys
import tempfile
import time
from pathlib import Path

import contenders as cs
import dataset
import peers
import report
from measure import process_cpu_s, run_measured
from wire import DynamoDBWire

ALL_CONTENDERS = ("raw_floor", "ddbvault_dir", "ddbvault_s3", "dynamodump")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py", description=__doc__.split("\n\n")[0],
        epilog="Targets: ddbvault wall / raw floor wall <= 1.3 (local dir and S3 each); ddbvault "
               "CPU per item / dynamodump CPU per item <= 0.35; ddbvault peak RSS at 1M items / "
               "at N items <= 1.2 (needs --rss-scale). See bench/README.md.")
    parser.add_argument("--items", type=int, default=100_000, help="items in the table (default 100000)")
    parser.add_argument("--segments", type=int, default=4,
                        help="parallel Scan segments (and ddbvault --workers) (default 4)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per contender, round-robin; the best wall is reported (default 1)")
    parser.add_argument("--item-bytes", type=int, default=dataset.TARGET_ITEM_BYTES,
                        help=f"mean DynamoDB item size to aim for (default {dataset.TARGET_ITEM_BYTES})")
    parser.add_argument("--contenders", default=",".join(ALL_CONTENDERS),
                        help=f"comma-separated subset of {','.join(ALL_CONTENDERS)} (default: all)")
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
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds before a contender is killed (default 1800)")
    parser.add_argument("--json-out", type=Path, help="also write all results as JSON to this file")
    args = parser.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(ALL_CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    if args.rss_scale and "ddbvault_dir" not in args.contenders:
        args.contenders.append("ddbvault_dir")  # the RSS target compares against its N-item run
    if args.items < 1 or args.segments < 1 or args.repeat < 1:
        parser.error("--items, --segments and --repeat must be positive")
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
    from ddbvault.local_servers import local_aws_env
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(local_aws_env(dynamodb_url))
    return env


def measure_once(contender: cs.Contender, scratch_root: Path, rep: int, timeout: float,
                 server_pids: list[int]) -> dict:
    """One measured run in a fresh scratch dir, which is deleted afterwards."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{contender.key}-{rep}-", dir=scratch_root))
    try:
        servers_before = _servers_cpu_s(server_pids)
        m = run_measured(contender.argv_for(scratch, rep), contender.env, cwd=str(scratch),
                         timeout_s=timeout)
        run = {"rep": rep, **m.summary(), "rss_mib": round(m.rss_mib, 1),
               "server_cpu_s": round(_servers_cpu_s(server_pids) - servers_before, 2),
               "items": None, "error": None}
        if m.returncode != 0:
            run["error"] = ("timed out" if m.timed_out else f"exit {m.returncode}: "
                            + (m.stderr_tail.strip().splitlines() or [""])[-1][:300])
            return run
        try:
            run["items"], run["details"] = contender.read_result(m.stdout, scratch)
        except (ValueError, KeyError, OSError) as exc:
            run["error"] = f"unreadable result: {exc}"
        return run
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
                f"server cpu {run['server_cpu_s']:.2f}s "
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
                     dump_missing: str | None) -> list[cs.Contender]:
    s3_missing = ddbvault_missing or (None if servers.moto_url else "no moto_server")
    made = {
        "raw_floor": lambda: cs.raw_floor(table, args.segments, servers),
        "ddbvault_dir": lambda: cs.ddbvault(table, args.segments, servers, False, ddbvault_missing),
        "ddbvault_s3": lambda: cs.ddbvault(table, args.segments, servers, True, s3_missing),
        "dynamodump": lambda: cs.dynamodump(table, servers, dump_missing),
    }
    return [made[key]() for key in ALL_CONTENDERS if key in args.contenders]


def prepare_dynamodump(args, phases: Phases) -> str | None:
    if "dynamodump" not in args.contenders:
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
        chosen = build_contenders(args, table, servers, ddbvault_missing, dump_missing)
        results = run_contenders(chosen, args.items, args, scratch, servers, phases, "")
        big_results: dict[str, report.ContenderResult] = {}
        if args.rss_scale:
            dataset.delete_table(wire, table)  # frees dynalite's memory for the big table
            big_load, big_results = run_rss_scale(args, wire, scratch, servers, payload,
                                                  ddbvault_missing, phases)
            loads.append(big_load)

    checks = report.targets(results, big_results.get("ddbvault_dir") if args.rss_scale else None,
                            args.rss_scale_items)
    summary = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "environment": _environment(),
        "item_size_bytes": dataset.size_stats(payload), "payload_bytes": payload,
        "loads": loads, "phases_s": phases.seconds,
        "total_s": round(time.perf_counter() - started, 1),
        "contenders": [r.to_json() for r in results.values()],
        "rss_scale": [r.to_json() for r in big_results.values()],
        "targets": [t.to_json() for t in checks],
    }
    print(report.render_run(args, summary, results, big_results, checks))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
        log(f"results written to {args.json_out}")
    ran = [r for r in (*results.values(), *big_results.values())
           if not r.status.startswith("not available")]
    return 0 if all(r.ok for r in ran) else 1


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


def check_ddbvault(args) -> str | None:
    """Why the ddbvault CLI cannot run, or None; None too when no ddbvault contender is wanted."""
    if not {"ddbvault_dir", "ddbvault_s3"} & set(args.contenders):
        return None
    missing = cs.ddbvault_available()
    log(f"ddbvault CLI: {missing or 'available'}")
    return missing


def start_servers(stack: contextlib.ExitStack, scratch: Path, with_moto: bool, args,
                  phases: Phases) -> cs.Servers:
    """dynalite always; moto_server (S3 with the bench bucket, STS) when ddbvault will run."""
    from ddbvault.local_servers import dynalite, moto_server
    with phases("start servers"):
        ddb = stack.enter_context(dynalite(log_path=scratch / "dynalite.log"))
        moto = stack.enter_context(moto_server(log_path=scratch / "moto.log")) if with_moto else None
    servers = cs.Servers(ddb.url, moto.url if moto else None, clean_env(ddb.url),
                         pids=[s.process.pid for s in (ddb, moto) if s],
                         ddbvault_extra=shlex.split(args.ddbvault_args))
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
    from ddbvault.local_servers import find_dynalite
    try:
        package = Path(find_dynalite()).resolve().parent / "package.json"
        return json.loads(package.read_text())["version"]
    except (OSError, RuntimeError, KeyError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(main())

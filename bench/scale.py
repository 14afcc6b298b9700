"""ddbvault scaling bench (issue 10): threads vs --processes 2/4 (vs Dask), CPU per item and the
shared read cap, side by side on one local dynalite.

It starts its own dynalite, loads a table of N ~1 KB items (bench/dataset.py), then runs
`ddbvault backup TABLE --to <fresh local dir> --segments S --json` once per executor, each as a
separate child process measured with os.wait4 (user+sys CPU of the child and of the children it
waited for: the pool's processes), round-robin over --repeat:

  1. uncapped (--read-rcu 1000000): items/s and client CPU per item; the ratios of CPU per item
     at --processes 4 and 2 over the one-process threads run (the issue's target: <= 1.1).
     With --small-items, the same runs on a small table give each executor's fixed cost (child
     interpreters, per-segment sessions), so the marginal CPU per item is printed too.
  2. capped (--read-rcu CAP, CAP chosen so a run takes about --cap-seconds): the manifest's
     consumed_capacity.aggregate_rcu_per_s against CAP (target: within +-10%), and where the
     time went: the workers' occupancy (busy worker-seconds / (P x span)), the head (until P
     segments run at once) and the tail (after fewer than P do), read from segments/*.json.
  3. --dask: the same with `--executor dask` on a LocalCluster of 2 worker processes
     (bench/local_cluster.py), whose CPU (from /proc) is added to the client's.

    .venv/bin/python bench/scale.py                         # 100k items, 8 segments, 1 run each
    .venv/bin/python bench/scale.py --repeat 2 --dask --json-out bench/results/scale.json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import contenders as cs
import dataset
from measure import machine_busy_s, process_cpu_s, run_measured
from run import Phases, clean_env, load, log
from wire import DynamoDBWire

BENCH_DIR = Path(__file__).resolve().parent
UNCAPPED_RCU = 1_000_000
CPU_TARGET = 1.1  # CPU per item at P processes / one process (issue 10)
CAP_TOLERANCE = 0.10  # aggregate RCU/s within +-10% of the cap (issue 10)


@dataclass(frozen=True)
class Executor:
    key: str
    label: str
    extra: list[str]  # ddbvault backup options naming the executor
    workers: int  # P: what the plan shares the cap among (1 for threads: one limiter)
    on_cluster: bool = False


@dataclass
class Run:
    """One measured `ddbvault backup`. CPU seconds are user+sys; cluster_cpu_s is the Dask
    cluster's (scheduler, nannies, workers) over the run, 0 for the other executors."""

    executor: str
    phase: str
    rep: int
    wall_s: float
    cpu_s: float
    cluster_cpu_s: float
    server_cpu_s: float
    other_cpu_s: float | None
    rss_mib: float
    items: int | None = None
    error: str | None = None
    result: dict = field(default_factory=dict)  # the CLI's --json object
    timeline: dict = field(default_factory=dict)  # from segments/*.json (timeline_of)

    @property
    def total_cpu_s(self) -> float:
        return self.cpu_s + self.cluster_cpu_s


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/scale.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the table (default 100000)")
    parser.add_argument("--segments", type=int, default=8,
                        help="--segments of every backup, the same for each executor (default 8)")
    parser.add_argument("--workers", type=int, default=4,
                        help="--workers (threads per process) of every backup (default 4)")
    parser.add_argument("--processes", default="2,4",
                        help="comma-separated --processes values to run (default 2,4)")
    parser.add_argument("--dask", action="store_true",
                        help="also --executor dask on a LocalCluster of --dask-workers processes")
    parser.add_argument("--dask-workers", type=int, default=2, help="(default 2)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per executor and phase, round-robin (default 1)")
    parser.add_argument("--read-rcu", type=float,
                        help="the capped phase's --read-rcu (default: the uncapped runs' consumed "
                             "RCU / --cap-seconds)")
    parser.add_argument("--cap-seconds", type=float, default=20.0,
                        help="what a capped run should take, seconds (default 20)")
    parser.add_argument("--no-cap", action="store_true", help="skip the capped phase")
    parser.add_argument("--small-items", type=int, default=1000,
                        help="items of the small table that measures fixed costs (0: skip; default 1000)")
    parser.add_argument("--item-bytes", type=int, default=dataset.TARGET_ITEM_BYTES,
                        help=f"mean item size to aim for (default {dataset.TARGET_ITEM_BYTES})")
    parser.add_argument("--load-processes", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--load-threads", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run (default 600)")
    parser.add_argument("--json-out", type=Path, help="also write every run as JSON to this file")
    args = parser.parse_args(argv)
    try:
        args.processes = [int(p) for p in args.processes.split(",") if p.strip()]
    except ValueError:
        parser.error(f"--processes must be comma-separated integers, got {args.processes!r}")
    if min(args.items, args.segments, args.workers, args.repeat, args.dask_workers,
           *(args.processes or [0])) < 1:
        parser.error("--items, --segments, --workers, --repeat, --dask-workers and --processes "
                     "must be positive")
    if args.small_items < 0 or args.small_items >= args.items:
        parser.error("--small-items must be 0 or below --items")
    if args.read_rcu is not None and not 1 <= args.read_rcu < UNCAPPED_RCU:
        parser.error(f"--read-rcu must be 1..{UNCAPPED_RCU - 1}")
    if not 1 <= args.cap_seconds <= 3600:
        parser.error("--cap-seconds must be 1..3600")
    # ddbvault's own refusal would come later, after the load: --processes is 1..256
    if max(args.processes or [1]) > 256 or args.dask_workers > 16:
        parser.error("--processes must be <= 256 and --dask-workers <= 16")
    args.ddbvault_args = args.ddbvault_restore_args = ""  # what run.start_servers reads
    return args


def executors(args, scheduler: str | None) -> list[Executor]:
    chosen = [Executor("threads", f"threads (--workers {args.workers})", [], 1)]
    chosen += [Executor(f"processes_{p}", f"--processes {p}", ["--processes", str(p)], p)
               for p in args.processes]
    if scheduler:
        chosen.append(Executor("dask", f"dask ({args.dask_workers} worker processes)",
                               ["--executor", "dask", "--scheduler", scheduler], args.dask_workers,
                               on_cluster=True))
    return chosen


def backup_once(table: str, ex: Executor, phase: str, rep: int, read_rcu: float, args, env: dict,
                scratch_root: Path, watched: list[int], cluster_pid: int | None) -> Run:
    """One measured backup into a fresh directory, read back (counts, timeline), then removed."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{ex.key}-{phase}-{rep}-", dir=scratch_root))
    argv = [str(cs.DDBVAULT_EXE), "backup", table, "--to", str(scratch / "backup"),
            "--segments", str(args.segments), "--workers", str(args.workers),
            "--read-rcu", f"{read_rcu:g}", "--json", *ex.extra]
    try:
        servers_before, busy_before = _cpu_of(watched), machine_busy_s()
        cluster_before = tree_cpu_s(cluster_pid) if ex.on_cluster else 0.0
        m = run_measured(argv, env, cwd=str(scratch), timeout_s=args.timeout)
        cluster = (tree_cpu_s(cluster_pid) - cluster_before) if ex.on_cluster else 0.0
        server = _cpu_of(watched) - servers_before
        busy_after = machine_busy_s()
        other = (None if busy_before is None or busy_after is None
                 else max(0.0, busy_after - busy_before - m.cpu_s - cluster - server))
        run = Run(ex.key, phase, rep, m.wall_s, m.cpu_s, cluster, server, other, m.rss_mib)
        if m.returncode != 0:
            run.error = ("timed out" if m.timed_out else f"exit {m.returncode}: "
                         + (m.stderr_tail.strip().splitlines() or [""])[-1][:300])
            return run
        try:  # also counts the data lines on disk against the reported items
            run.items, run.result = cs._read_ddbvault_dir(m.stdout, scratch)
            run.timeline = timeline_of(Path(run.result["url"]), ex.workers if ex.key != "threads" else None)
        except (ValueError, KeyError, OSError) as exc:
            run.error = f"unreadable result: {exc}"
        return run
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def timeline_of(backup: Path, workers: int | None) -> dict:
    """Where a backup's scan time went, from its segments' results (segments/*.json: started_at,
    finished_at, consumed_rcu). Seconds from the first start; `workers` P (None: threads in one
    process, where occupancy, head and tail say nothing):
      span_s: first start to last end (what the manifest's aggregate divides by);
      occupancy: busy segment-seconds / (P x span): the aggregate a cap/P-per-worker limiter
        can reach is cap x occupancy;
      head_s: until P segments first run at once; tail_s: after the last moment P did;
      steady_rcu_per_s: RCU in between (each segment's RCU spread evenly over its time) / its length.
    """
    spans = []
    for path in sorted((backup / "segments").glob("*.json")):
        doc = json.loads(path.read_text())
        spans.append((_instant(doc["started_at"]), _instant(doc["finished_at"]), float(doc["consumed_rcu"])))
    if not spans:
        raise ValueError(f"no segment results under {backup}")
    t0 = min(s for s, _, _ in spans)
    spans = [(s - t0, e - t0, rcu) for s, e, rcu in spans]
    span = max(e for _, e, _ in spans)
    out = {"segments": len(spans), "span_s": round(span, 3),
           "segment_s": sorted(round(e - s, 2) for s, e, _ in spans)}
    if workers is None or span <= 0:
        return out
    busy = sum(e - s for s, e, _ in spans)
    full = min(workers, len(spans))
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans],
                    key=lambda ev: (ev[0], ev[1]))  # an end before a start at the same instant
    running, head, tail_from = 0, None, None
    for moment, step in events:
        before = running
        running += step
        if running >= full and head is None:
            head = moment
        if before >= full > running:
            tail_from = moment
    head = span if head is None else head
    tail_from = span if tail_from is None else max(tail_from, head)
    window = tail_from - head
    in_window = sum(rcu * _overlap(s, e, head, tail_from) / (e - s) for s, e, rcu in spans if e > s)
    out.update(occupancy=round(busy / (workers * span), 3), head_s=round(head, 2),
               tail_s=round(span - tail_from, 2),
               steady_rcu_per_s=round(in_window / window, 1) if window > 0.5 else None)
    return out


def _overlap(start: float, end: float, low: float, high: float) -> float:
    return max(0.0, min(end, high) - max(start, low))


def _instant(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _cpu_of(pids: list[int]) -> float:
    return sum(process_cpu_s(pid) or 0.0 for pid in pids)


def tree_cpu_s(pid: int | None) -> float:
    """user+sys CPU seconds of a live process and all its descendants, those it reaped included."""
    import psutil  # distributed's dependency: only the Dask phase calls this
    if pid is None:
        return 0.0
    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    except psutil.Error:
        pass
    return total


@contextlib.contextmanager
def local_cluster(workers: int, env: dict, timeout_s: float = 120):
    """bench/local_cluster.py as a child process: yields (scheduler address, its pid)."""
    process = subprocess.Popen([sys.executable, str(BENCH_DIR / "local_cluster.py"), str(workers)],
                               env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        address = process.stdout.readline().strip() if ready else ""
        if not address.startswith("tcp://"):
            raise RuntimeError(f"the Dask LocalCluster did not start within {timeout_s:.0f} s")
        yield address, process.pid
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_phase(table: str, expected: int, chosen: list[Executor], phase: str, read_rcu: float,
              args, env: dict, scratch: Path, watched: list[int], cluster_pid: int | None,
              phases: Phases) -> list[Run]:
    """Every executor once per repetition, round-robin, so drift affects each alike."""
    runs = []
    for rep in range(args.repeat):
        for ex in chosen:
            with phases(f"{phase} {ex.key} run {rep + 1}/{args.repeat}"):
                run = backup_once(table, ex, phase, rep, read_rcu, args, env, scratch, watched, cluster_pid)
            if run.error is None and run.items != expected:
                run.error = f"read {run.items} items, expected {expected}"
            runs.append(run)
            log(f"  {ex.key}: wall {run.wall_s:.2f}s cpu {run.cpu_s:.2f}s cluster {run.cluster_cpu_s:.2f}s "
                f"other {run.other_cpu_s}s agg {run.result.get('aggregate_rcu_per_s')} {run.error or ''}")
    return runs


def summarize(runs: list[Run], chosen: list[Executor], items: int) -> dict[str, dict]:
    """Per executor, the median over its good runs (and the range) of wall and CPU."""
    out = {}
    for ex in chosen:
        good = [r for r in runs if r.executor == ex.key and r.error is None]
        if not good:
            out[ex.key] = {"label": ex.label, "error": next((r.error for r in runs if r.executor == ex.key), "no run")}
            continue
        cpu = [r.total_cpu_s for r in good]
        wall = [r.wall_s for r in good]
        aggregates = [r.result.get("aggregate_rcu_per_s") for r in good]
        out[ex.key] = {
            "label": ex.label, "runs": len(good), "wall_s": statistics.median(wall),
            "wall_range": (min(wall), max(wall)), "items_per_s": items / statistics.median(wall),
            "cpu_s": statistics.median(cpu), "cpu_range": (min(cpu), max(cpu)),
            "client_cpu_s": statistics.median(r.cpu_s for r in good),
            "cluster_cpu_s": statistics.median(r.cluster_cpu_s for r in good),
            "cpu_us_per_item": statistics.median(cpu) / items * 1e6,
            "other_cpu_s": max((r.other_cpu_s or 0.0) for r in good),
            "rss_mib": max(r.rss_mib for r in good),
            "consumed_rcu": statistics.median(float(r.result.get("consumed_rcu") or 0) for r in good),
            "aggregate_rcu_per_s": aggregates,
            "timelines": [r.timeline for r in good]}
    return out


def cpu_table(title: str, summary: dict[str, dict]) -> str:
    lines = [title, f"{'executor':<30} {'wall s':>13} {'items/s':>8} {'CPU s (client+cluster)':>24} "
                    f"{'CPU µs/item':>11} {'other CPU s':>11} {'RSS MiB':>8}"]
    for s in summary.values():
        if "error" in s:
            lines.append(f"{s['label']:<30} FAILED: {s['error']}")
            continue
        cpu = f"{s['cpu_s']:.2f} ({s['client_cpu_s']:.2f}+{s['cluster_cpu_s']:.2f})"
        lines.append(f"{s['label']:<30} {_range(s['wall_s'], s['wall_range']):>13} {s['items_per_s']:>8,.0f} "
                     f"{cpu:>24} {s['cpu_us_per_item']:>11.1f} {s['other_cpu_s']:>11.1f} {s['rss_mib']:>8.0f}")
    return "\n".join(lines)


def _range(mid: float, bounds: tuple[float, float]) -> str:
    return f"{mid:.2f}" if bounds[0] == bounds[1] else f"{mid:.1f} ({bounds[0]:.1f}-{bounds[1]:.1f})"


def cpu_ratios(big: dict[str, dict], small: dict[str, dict] | None, items: int, small_items: int) -> tuple[str, list[dict]]:
    """CPU per item of each executor over the threads run's: gross, and marginal (fixed cost,
    measured on the small table, taken out) when the small runs were made."""
    base = big.get("threads", {})
    lines, rows = ["CPU per item over the one-process threads run (the issue's target: <= 1.1):"], []
    for key, s in big.items():
        if key == "threads" or "error" in s or "error" in base:
            continue
        gross = s["cpu_us_per_item"] / base["cpu_us_per_item"]
        row = {"executor": key, "gross": round(gross, 3)}
        text = f"  {s['label']:<28} gross {gross:.2f}x"
        if small and "error" not in small.get(key, {"error": 1}) and "error" not in small.get("threads", {"error": 1}):
            marginal = ((s["cpu_s"] - small[key]["cpu_s"]) / (base["cpu_s"] - small["threads"]["cpu_s"]))
            row.update(marginal=round(marginal, 3), fixed_cpu_s=round(small[key]["cpu_s"], 2),
                       threads_fixed_cpu_s=round(small["threads"]["cpu_s"], 2))
            text += (f"   marginal {marginal:.2f}x (fixed cost {small[key]['cpu_s']:.2f} s vs "
                     f"{small['threads']['cpu_s']:.2f} s for threads, from {small_items:,} items)")
        text += "   target <= 1.1: gross " + ("PASS" if gross <= CPU_TARGET else "FAIL")
        if "marginal" in row:
            text += ", marginal " + ("PASS" if row["marginal"] <= CPU_TARGET else "FAIL")
        lines.append(text)
        rows.append(row)
    return "\n".join(lines), rows


def cap_table(cap: float, summary: dict[str, dict]) -> tuple[str, list[dict]]:
    lines = [f"Shared read cap: --read-rcu {cap:g} (target: aggregate within +-10% of it)",
             f"{'executor':<30} {'aggregate RCU/s':>15} {'/cap':>6} {'span s':>7} {'occupancy':>9} "
             f"{'head s':>6} {'tail s':>6} {'steady RCU/s':>12} {'/cap':>6}  verdict"]
    rows = []
    for key, s in summary.items():
        if "error" in s:
            lines.append(f"{s['label']:<30} FAILED: {s['error']}")
            continue
        for agg, tl in zip(s["aggregate_rcu_per_s"], s["timelines"]):
            ratio = agg / cap if agg else None
            steady = tl.get("steady_rcu_per_s")
            verdict = "N/A" if ratio is None else ("PASS" if abs(ratio - 1) <= CAP_TOLERANCE else "FAIL")
            lines.append(f"{s['label']:<30} {agg or 0:>15.1f} {_fmt(ratio):>6} {tl['span_s']:>7.1f} "
                         f"{_fmt(tl.get('occupancy')):>9} {_fmt(tl.get('head_s'), 1):>6} "
                         f"{_fmt(tl.get('tail_s'), 1):>6} {_fmt(steady, 1):>12} "
                         f"{_fmt(steady / cap if steady else None):>6}  {verdict}")
            rows.append({"executor": key, "aggregate_rcu_per_s": agg, "ratio": _round(ratio),
                         "steady_ratio": _round(steady / cap if steady else None), **tl})
    return "\n".join(lines), rows


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):  # unwind, so the servers are stopped
        signal.signal(signum, _exit_on_signal)
    missing = cs.ddbvault_available()
    if missing:
        log(f"cannot run: {missing}")
        return 1
    if args.dask and importlib.util.find_spec("distributed") is None:
        log("--dask needs distributed (pip install 'ddbvault[dask]')")
        return 1
    from ddbvault.devtools.local_servers import dynalite
    phases, started = Phases(), time.perf_counter()
    payload = dataset.payload_for(args.item_bytes)
    report: dict = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "cpus": os.cpu_count(), "item_size_bytes": dataset.size_stats(payload)}
    out: list[str] = []
    all_runs: list[Run] = []
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ddbvault-scale-")))
        with phases("start dynalite"):
            ddb = stack.enter_context(dynalite(log_path=scratch / "dynalite.log"))
        env = dict(clean_env(ddb.url), AWS_ENDPOINT_URL_DYNAMODB=ddb.url)
        wire = DynamoDBWire(ddb.url)
        table, small_table = f"scale_{args.items}", f"scale_{args.small_items}"
        report["loads"] = [load(wire, ddb.url, table, args.items, payload, args, phases)]
        if args.small_items:
            report["loads"].append(load(wire, ddb.url, small_table, args.small_items, payload, args, phases))
        scheduler = cluster_pid = None
        if args.dask:
            with phases(f"start a Dask LocalCluster of {args.dask_workers} processes"):
                scheduler, cluster_pid = stack.enter_context(local_cluster(args.dask_workers, env))
        chosen = executors(args, scheduler)
        watched = [ddb.process.pid]

        small = None
        if args.small_items:
            runs = run_phase(small_table, args.small_items, chosen, "small", UNCAPPED_RCU, args, env,
                             scratch, watched, cluster_pid, phases)
            all_runs += runs
            small = summarize(runs, chosen, args.small_items)
            out.append(cpu_table(f"Fixed cost: {args.small_items:,} items, --segments {args.segments}, "
                                 f"uncapped (median of {args.repeat})", small))
        runs = run_phase(table, args.items, chosen, "uncapped", UNCAPPED_RCU, args, env, scratch,
                         watched, cluster_pid, phases)
        all_runs += runs
        big = summarize(runs, chosen, args.items)
        out.append(cpu_table(f"Uncapped: {args.items:,} items, --segments {args.segments}, "
                             f"--read-rcu {UNCAPPED_RCU} (median of {args.repeat})", big))
        text, report["cpu_ratios"] = cpu_ratios(big, small, args.items, args.small_items)
        out.append(text)

        if not args.no_cap:
            consumed = big.get("threads", {}).get("consumed_rcu")
            cap = args.read_rcu or (round(consumed / args.cap_seconds) if consumed else None)
            if not cap:
                out.append("capped phase skipped: no uncapped threads run to size the cap from")
            else:
                runs = run_phase(table, args.items, chosen, "capped", float(cap), args, env, scratch,
                                 watched, cluster_pid, phases)
                all_runs += runs
                capped = summarize(runs, chosen, args.items)
                out.append(cpu_table(f"Capped: --read-rcu {cap:g} (median of {args.repeat})", capped))
                text, report["cap"] = cap_table(float(cap), capped)
                out.append(text)
                report["read_rcu"] = cap
    report["runs"] = [vars(r) for r in all_runs]
    report["phases_s"], report["total_s"] = phases.seconds, round(time.perf_counter() - started, 1)
    print(f"\nddbvault scale bench: {args.items:,} items of ~{report['item_size_bytes']['mean']} B on "
          f"dynalite, {os.cpu_count()} CPUs (dynalite takes one), total {report['total_s']} s\n")
    print("\n\n".join(out))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        log(f"results written to {args.json_out}")
    return 0 if all(r.error is None for r in all_runs) else 1


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())

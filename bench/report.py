"""Results: per-contender figures, the ratios the issue sets as targets, and the plain-text table."""

from __future__ import annotations

from dataclasses import dataclass, field

WALL_RATIO_MAX = 1.3      # ddbvault wall / raw floor wall
CPU_RATIO_MAX = 0.35      # ddbvault CPU per item / dynamodump CPU per item
RSS_SCALE_MAX = 1.2       # ddbvault peak RSS at 1M items / at 100k items
RESTORE_WALL_MAX = 0.5    # ddbvault restore wall / dynamodump restore wall
RESTORE_CPU_MAX = 0.4     # ddbvault restore CPU per item / dynamodump restore CPU per item


@dataclass
class ContenderResult:
    key: str
    label: str
    status: str                   # "ok", "not available: …", "failed: …", "incomplete: …"
    expected_items: int
    items: int | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    rss_mib: float | None = None
    server_cpu_s: float | None = None             # dynalite (+ moto) CPU while it ran
    other_cpu_s: float | None = None              # everything else on the machine meanwhile
    runs: list[dict] = field(default_factory=list)   # every repetition, measured
    details: dict = field(default_factory=dict)      # the best run's own JSON output
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def cpu_us_per_item(self) -> float | None:
        if self.cpu_s is None or not self.items:
            return None
        return self.cpu_s / self.items * 1e6

    def to_json(self) -> dict:
        return {"key": self.key, "label": self.label, "status": self.status,
                "expected_items": self.expected_items, "items": self.items,
                "wall_s": _round(self.wall_s), "cpu_s": _round(self.cpu_s),
                "cpu_us_per_item": _round(self.cpu_us_per_item, 2),
                "peak_rss_mib": _round(self.rss_mib, 1),
                "server_cpu_s": self.server_cpu_s, "other_cpu_s": self.other_cpu_s,
                "runs": self.runs, "details": self.details, "notes": self.notes}


@dataclass
class Target:
    name: str
    ratio: float | None
    limit: float | None      # None: shown for information, not judged
    why_missing: str = ""

    @property
    def verdict(self) -> str:
        if self.ratio is None:
            return "N/A"
        if self.limit is None:
            return "INFO"
        return "PASS" if self.ratio <= self.limit else "FAIL"

    def to_json(self) -> dict:
        return {"name": self.name, "ratio": _round(self.ratio, 3), "limit": self.limit,
                "verdict": self.verdict, "why_missing": self.why_missing or None}


def _ratio(name: str, limit: float | None, top: ContenderResult | None, bottom: ContenderResult | None,
           metric: str) -> Target:
    for result in (top, bottom):
        if result is None:
            return Target(name, None, limit, "not run")
        if not result.ok:
            return Target(name, None, limit, f"{result.key} {result.status.split(':')[0]}")
    a, b = getattr(top, metric), getattr(bottom, metric)
    if a is None or not b:
        return Target(name, None, limit, f"no {metric}")
    return Target(name, a / b, limit)


def targets(results: dict[str, ContenderResult], rss_big: ContenderResult | None,
            rss_big_items: int, items: int | None = None) -> list[Target]:
    raw, dump = results.get("raw_floor"), results.get("dynamodump")
    out = []
    for key, where in (("ddbvault_dir", "local dir"), ("ddbvault_s3", "S3")):
        out.append(_ratio(f"ddbvault ({where}) wall / raw floor wall", WALL_RATIO_MAX,
                          results.get(key), raw, "wall_s"))
    for key, where in (("ddbvault_dir", "local dir"), ("ddbvault_s3", "S3")):
        out.append(_ratio(f"ddbvault ({where}) CPU/item / dynamodump CPU/item", CPU_RATIO_MAX,
                          results.get(key), dump, "cpu_us_per_item"))
    rss_name = f"ddbvault (local dir) peak RSS at {rss_big_items:,} / at {items or _items(results):,} items"
    if rss_big is None:
        out.append(Target(rss_name, None, RSS_SCALE_MAX, "run with --rss-scale"))
    else:
        out.append(_ratio(rss_name, RSS_SCALE_MAX, rss_big, results.get("ddbvault_dir"), "rss_mib"))
    return out


def restore_targets(results: dict[str, ContenderResult]) -> list[Target]:
    ddbvault, dump = results.get("ddbvault_restore"), results.get("dynamodump_restore")
    return [
        _ratio("ddbvault restore wall / dynamodump restore wall", RESTORE_WALL_MAX, ddbvault, dump,
               "wall_s"),
        _ratio("ddbvault restore CPU/item / dynamodump restore CPU/item", RESTORE_CPU_MAX, ddbvault,
               dump, "cpu_us_per_item"),
        _ratio("ddbvault restore wall / raw restore floor wall", None, ddbvault,
               results.get("raw_restore_floor"), "wall_s"),
    ]


def _items(results: dict[str, ContenderResult]) -> int:
    return next(iter(results.values())).expected_items if results else 0


def render_table(results: list[ContenderResult]) -> str:
    header = (f"{'contender':<44} {'wall s':>8} {'CPU s':>8} {'CPU µs/item':>12} {'peak RSS MiB':>13} "
              f"{'items':>10} {'server CPU s':>13} {'other CPU s':>12}")
    lines = [header, "-" * len(header)]
    for r in results:
        if not r.ok and r.wall_s is None:
            lines.append(f"{r.label:<44} {r.status}")
            continue
        lines.append(f"{r.label:<44} {_fmt(r.wall_s, 2):>8} {_fmt(r.cpu_s, 2):>8} "
                     f"{_fmt(r.cpu_us_per_item, 1):>12} {_fmt(r.rss_mib, 1):>13} {r.items or 0:>10,} "
                     f"{_fmt(r.server_cpu_s, 2):>13} {_fmt(r.other_cpu_s, 2):>12}")
        if not r.ok:
            lines.append(f"{'':<44} ^ {r.status}")
    return "\n".join(lines)


def render_targets(items: list[Target]) -> str:
    lines = []
    for t in items:
        shown = f"{t.ratio:.3f}" if t.ratio is not None else "—"
        suffix = f"  ({t.why_missing})" if t.why_missing else ""
        limit = f"target ≤ {t.limit}" if t.limit is not None else "no target"
        lines.append(f"{t.verdict:<5} {t.name:<62} {shown:>7}  {limit}{suffix}")
    return "\n".join(lines)


def render_run(args, summary: dict, results: dict, big_results: dict, checks: list[Target],
               restore_results: dict | None = None, restore_checks: list[Target] | None = None) -> str:
    """The whole plain-text report of one run."""
    restore_results = restore_results or {}
    s = summary["item_size_bytes"]
    lines = [f"ddbvault benchmark on dynalite {summary['environment']['dynalite']}: "
             f"{args.items:,} items of {s['mean']} B mean ({s['min']}-{s['max']} B), "
             f"{args.segments} segments, best of {args.repeat}, {summary['environment']['cpus']} CPUs",
             *([f"extra ddbvault options: {args.ddbvault_args}"] if args.ddbvault_args else []), ""]
    for loaded in summary["loads"]:
        lines.append(f"load {loaded['items']:,} items: {loaded['seconds']:.1f}s "
                     f"({loaded['items_per_s']:,} items/s)")
    if results:
        lines += ["", "backup:", render_table(list(results.values()))]
    if restore_results:
        sources = summary.get("restore_sources") or {}
        lines += ["", f"restore of the {args.items:,}-item backup into a fresh dynalite table per run "
                      f"({args.restore_workers} workers):",
                  render_table(list(restore_results.values()))]
        if sources.get("backup_url"):
            lines.append(f"ddbvault backup restored: {sources['backup_objects']} data objects, "
                         f"from {sources['backup_from']}")
        if sources.get("dump_dir"):
            lines.append(f"dynamodump dump restored: from {sources['dump_from']}")
        if summary.get("restore_line_cost_us"):
            from line_cost import render
            lines.append(render(summary["restore_line_cost_us"]))
    if big_results:
        lines += ["", f"at {args.rss_scale_items:,} items:", render_table(list(big_results.values()))]
    notes = [f"{r.key}: {n}" for r in [*results.values(), *restore_results.values(),
                                        *big_results.values()] for n in r.notes]
    if notes:
        lines += ["", *notes]
    lines += ["", "targets:", render_targets(checks + list(restore_checks or [])), "",
              "phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in summary["phases_s"].items()),
              f"total: {summary['total_s']:.1f}s"]
    return "\n".join(lines)


def _fmt(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)

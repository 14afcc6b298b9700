"""Run one contender as a child process and measure it: wall time, CPU (user+sys), peak RSS.

The figures come from os.wait4's rusage for that child alone (the benchmark's own threads and
servers are not counted). ru_maxrss is in KiB on Linux. If the child starts children of its own,
rusage covers those it waited for too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Measurement:
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_kib: int
    returncode: int
    stdout: str
    stderr_tail: str
    timed_out: bool = False

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s

    @property
    def rss_mib(self) -> float:
        return self.maxrss_kib / 1024

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("stdout")
        data["cpu_s"] = round(self.cpu_s, 3)
        return data


def run_measured(argv: list[str], env: dict[str, str], cwd: str | None = None,
                 timeout_s: float = 3600) -> Measurement:
    """Run argv to completion (killing its process group after timeout_s) and measure it.

    stdout and stderr go to temporary files, so a chatty child cannot block on a full pipe.
    Never raises for a failing child: the caller reads returncode and stderr_tail.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=err, start_new_session=True)
        timed_out = threading.Event()
        timer = threading.Timer(timeout_s, _kill_group, (process.pid, timed_out))
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): never leave the child running
            _kill_group(process.pid, timed_out)
            process.wait()
            raise
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Measurement(wall_s=wall, user_s=usage.ru_utime, sys_s=usage.ru_stime,
                           maxrss_kib=usage.ru_maxrss, returncode=process.returncode,
                           stdout=out.read().decode(errors="replace"),
                           stderr_tail=err.read()[-4000:].decode(errors="replace"),
                           timed_out=timed_out.is_set())


def _kill_group(pid: int, flag: threading.Event) -> None:
    flag.set()
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def process_cpu_s(pid: int) -> float | None:
    """user+sys CPU seconds a live process has used so far (Linux /proc), or None if it is gone.

    Used to charge the servers' work (dynalite, moto) to the contender running at the time.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float | None:
    """CPU seconds all CPUs of the machine have spent busy since boot (Linux /proc/stat), or None.

    The difference over a run, minus the contender's and the servers' CPU, is what everything
    else on the machine used meanwhile: a run with a lot of it is not a quiet-machine figure.
    """
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(f) for f in fields[:8]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")

"""The scheduler service against moto: scheduled runs, no overlap, clean SIGTERM, HTTP, bad configs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ddbvault.verify import verify_backup
from prometheus_client.parser import text_string_to_metric_families

from ddbvault.service import Service, load_config, run_once
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration


def write_config(path: Path, body: str) -> Path:
    path.write_text(body)
    return path


@pytest.fixture(scope="module")
def tables(ddb):
    for name, count in (("svc-orders", 60), ("svc-users", 40), ("svc-slow", 150)):
        create_table(ddb, name)
        fill_table(ddb, name, count, edge_cases=False, payload_bytes=50)
    return ddb


def _wait(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _metrics(base: str) -> dict:
    """/metrics parsed by prometheus-client: {(sample name, job label, table label): value}."""
    text = urllib.request.urlopen(f"{base}/metrics").read().decode()
    return {(s.name, s.labels.get("job"), s.labels.get("table")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_two_tables_on_an_interval_are_backed_up_with_metrics_and_health(tables, aws_env, tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'backups'}", read_rcu: 100000}}
jobs:
  - {{name: orders, table: svc-orders, interval_seconds: 1}}
  - {{name: users, table: svc-users, interval_seconds: 1}}
http: {{host: 127.0.0.1, port: 0, token: sesame}}
"""))
    service = Service(config)
    service.start()
    try:
        _wait(lambda: all(service.metrics.backups.labels(j, t)._value.get() >= 2
                          for j, t in (("orders", "svc-orders"), ("users", "svc-users"))),
              what="two runs of each job")
        base = f"http://127.0.0.1:{service.http.port}"
        assert urllib.request.urlopen(f"{base}/healthz").status == 200
        metrics = _metrics(base)
        assert metrics[("ddbvault_backups_total", "orders", "svc-orders")] >= 2
        assert metrics[("ddbvault_last_items", "users", "svc-users")] == 40
        assert metrics[("ddbvault_failures_total", "orders", "svc-orders")] == 0
        assert metrics[("ddbvault_up", None, None)] == 1
        assert time.time() - metrics[("ddbvault_last_success_timestamp_seconds", "orders", "svc-orders")] < 60
        assert len(list((tmp_path / "backups" / "svc-orders").glob("*/manifest.json"))) >= 2
    finally:
        service.stop()
    assert not service.scheduler.running


def test_two_jobs_of_one_table_have_their_own_metrics(tables, aws_env, tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults: {{read_rcu: 100000}}
jobs:
  - {{name: nightly, table: svc-users, cron: "0 3 * * *", destination: "{tmp_path / 'a'}"}}
  - {{name: broken, table: svc-users, cron: "0 3 * * *", destination: "s3://no-such-bucket-for-svc/x"}}
http: {{host: 127.0.0.1, port: 0, token: sesame}}
"""))
    service = Service(config)
    service.start()
    try:
        base = f"http://127.0.0.1:{service.http.port}"
        for job in ("nightly", "broken"):
            _post(base, f"/run/{job}", headers={"X-Ddbvault-Token": "sesame"})
        _wait(lambda: {r.outcome for r in service.runner.records.values()} == {"success", "failure"},
              what="both runs")
        metrics = _metrics(base)
    finally:
        service.stop()
    assert metrics[("ddbvault_backups_total", "nightly", "svc-users")] == 1
    assert metrics[("ddbvault_failures_total", "nightly", "svc-users")] == 0
    assert metrics[("ddbvault_failures_total", "broken", "svc-users")] == 1
    assert ("ddbvault_backups_total", "broken", "svc-users") not in metrics
    assert metrics[("ddbvault_last_items", "nightly", "svc-users")] == 40


def _post(base: str, path: str, data: bytes = b"", headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(base + path, data=data, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _raw_post(port: int, headers: bytes, body: bytes = b"") -> bytes:
    """Send a POST's head (and `body`), then return the status line that comes back within 5 s
    without sending anything more: the answer must not wait for the rest of a declared body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /run/orders HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n" + body)
        return sock.recv(200).split(b"\r\n")[0]


@pytest.fixture
def token_service(tables, aws_env, tmp_path):
    """A started service with one job, `orders`, and the HTTP token `sesame`; stopped after."""
    config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'b'}", read_rcu: 100000}}
jobs: [{{name: orders, table: svc-orders, cron: "0 3 * * *"}}]
http: {{host: 127.0.0.1, port: 0, token: sesame}}
"""))
    service = Service(config)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_run_now_checks_the_token_before_any_body_and_bounds_it(token_service):
    service = token_service
    port = service.http.port
    huge = b"Content-Length: 1000000000000\r\n"
    assert _raw_post(port, b"X-Ddbvault-Token: wrong\r\n" + huge).endswith(b" 403 Forbidden")
    assert b" 413 " in _raw_post(port, huge)
    assert b" 413 " in _raw_post(port, b"Content-Length: 65537\r\n")
    for bogus in (b"-1", b"abc", b"1e9", b"", b"\xb2"):
        assert b" 400 " in _raw_post(port, b"Content-Length: " + bogus + b"\r\n"), bogus
    assert b" 411 " in _raw_post(port, b"Transfer-Encoding: chunked\r\n")
    assert b" 403 " in _raw_post(port, b"")  # no body and no header: no token
    assert b" 403 " in _raw_post(port, b"Content-Length: 11\r\n", b"token=wrong")
    assert "orders" not in service.runner.records  # nothing above started a run
    assert b" 303 " in _raw_post(port, b"Content-Length: 12\r\n", b"token=sesame")
    _wait(lambda: service.runner.records.get("orders") and service.runner.records["orders"].outcome == "success",
          what="the run-now backup")
    assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz").status == 200  # still serving


def test_run_now_on_a_running_job_says_so_and_starts_nothing(tables, aws_env, tmp_path, caplog):
    caplog.set_level("INFO")
    dest = tmp_path / "slow"
    config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{dest}"}}
jobs: [{{name: slow, table: svc-slow, cron: "0 3 * * *", read_rcu: 1}}]
http: {{host: 127.0.0.1, port: 0, token: sesame}}
scheduler: {{shutdown_grace_s: 0}}
"""))
    service = Service(config)
    service.start()
    try:
        base, token = f"http://127.0.0.1:{service.http.port}", {"X-Ddbvault-Token": "sesame"}
        status, _ = _post(base, "/run/slow", headers=token)
        assert status == 200  # 303 followed to the status page
        _wait(lambda: service.runner.is_running("slow"), what="the slow run")
        status, text = _post(base, "/run/slow", headers=token)
        assert status == 409 and "already running" in text and "started" not in text
    finally:
        service.stop()
    assert "maximum number of running instances" not in caplog.text  # no second run was even tried
    assert "run now: job slow" in caplog.text and caplog.text.count("job slow: backing up") == 1


def test_run_now_needs_the_token(token_service):
    service = token_service
    base = f"http://127.0.0.1:{service.http.port}"
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(urllib.request.Request(f"{base}/run/orders", data=b"token=wrong", method="POST"))
    assert denied.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as unknown:
        urllib.request.urlopen(urllib.request.Request(f"{base}/run/nope", data=b"token=sesame", method="POST"))
    assert unknown.value.code == 404
    assert "orders" not in service.runner.records
    request = urllib.request.Request(f"{base}/run/orders", data=b"", method="POST",
                                     headers={"X-Ddbvault-Token": "sesame"})
    assert urllib.request.urlopen(request).status == 200  # 303 followed to the status page
    _wait(lambda: service.runner.records.get("orders") and service.runner.records["orders"].outcome == "success",
          what="the run-now backup")
    page = urllib.request.urlopen(base + "/").read().decode()
    assert 'data-outcome="success"' in page and "svc-orders" in page


def test_sigterm_mid_run_leaves_no_manifest_never_overlaps_and_exits_0(tables, aws_env, tmp_path):
    dest = tmp_path / "slow"
    config = write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{dest}"}}
jobs: [{{name: slow, table: svc-slow, interval_seconds: 1, read_rcu: 1}}]
http: {{host: 127.0.0.1, port: 0}}
scheduler: {{shutdown_grace_s: 1}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "ddbvault", "serve", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        _wait(lambda: any(p.is_file() and "staging" in p.parts for p in dest.rglob("*")), what="a backup in progress")
        time.sleep(2.5)  # two intervals pass while the one slow run goes on
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out.decode()
    assert not list(dest.rglob("manifest.json"))
    assert len(list((dest / "svc-slow").iterdir())) == 1, "the job ran twice at once"
    assert b"maximum number of running instances reached" in out
    # aborted uploads left no data behind: only the plan and the attempts' records (docs/scale.md)
    left = {p.relative_to(dest).parts[2] for p in dest.rglob("*") if p.is_file()}
    assert left <= {"plan.json", "attempts", "segments"}, left
    assert not list(dest.rglob("data/*"))


def test_after_a_crash_the_next_run_resumes_the_unfinished_backup(tables, aws_env, tmp_path):
    dest = tmp_path / "crashed"
    config = write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{dest}"}}
jobs: [{{name: slow, table: svc-slow, cron: "0 3 * * *", read_rcu: 40}}]
http: {{host: 127.0.0.1, port: 0}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "ddbvault", "run", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        _wait(lambda: any(p.is_file() and "staging" in p.parts for p in dest.rglob("*")), what="a backup in progress")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    [unfinished] = list((dest / "svc-slow").iterdir())
    assert not (unfinished / "manifest.json").exists()
    done = subprocess.run([sys.executable, "-m", "ddbvault", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "resuming the unfinished backup" in done.stdout + done.stderr
    assert list((dest / "svc-slow").iterdir()) == [unfinished]  # the same backup, finished
    manifest = json.loads((unfinished / "manifest.json").read_bytes())
    assert sum(s["attempts"] for s in manifest["segments"]) > len(manifest["segments"])
    assert verify_backup(str(unfinished)).ok


def test_run_once_runs_the_named_job(tables, aws_env, tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'once'}", read_rcu: 100000}}
jobs:
  - {{name: orders, table: svc-orders, cron: "0 3 * * *"}}
  - {{name: users, table: svc-users, cron: "0 3 * * *"}}
"""))
    records = run_once(config, "users")
    assert [(r.job, r.outcome, r.items) for r in records] == [("users", "success", 40)]
    assert not (tmp_path / "once" / "svc-orders").exists()
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "run", "--config", str(tmp_path / "c.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "once" / "svc-orders").glob("*/manifest.json"))


def test_run_job_is_repeatable_and_an_unknown_name_runs_nothing(tables, aws_env, tmp_path):
    write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'rep'}", read_rcu: 100000}}
jobs:
  - {{name: orders, table: svc-orders, cron: "0 3 * * *"}}
  - {{name: users, table: svc-users, cron: "0 3 * * *"}}
  - {{name: slow, table: svc-slow, cron: "0 3 * * *"}}
""")
    run = [sys.executable, "-m", "ddbvault", "run", "--config", str(tmp_path / "c.yaml"), "--json"]
    proc = subprocess.run([*run, "--job", "orders", "--job", "nosuch"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "'nosuch'" in proc.stderr and json.loads(proc.stdout)["error"] == "UsageError"
    assert not (tmp_path / "rep").exists()
    proc = subprocess.run([*run, "--job", "users", "--job", "orders"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert sorted((r["job"], r["outcome"]) for r in json.loads(proc.stdout)) == [("orders", "success"),
                                                                                ("users", "success")]
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == ["svc-orders", "svc-users"]


@pytest.mark.parametrize("body,needle", [
    ("jobs: [{name: a, table: tbl, cron: '0 3 * * *', destination: /tmp/x, colour: red}]", "jobs.0.colour: unknown key"),
    ("jobs: [{name: a, table: tbl, cron: '61 3 * * *', destination: /tmp/x}]", "jobs.0.cron"),
    ("jobs: [{name: a, cron: '0 3 * * *', destination: /tmp/x}]", "give exactly one of table"),
    ("jobs: [{name: a, table: tbl, cron: '0 3 * * *', destination: 'ftp://x/y'}]", "jobs.0.destination"),
    ("jobs: [{name: a, table: tbl, cron: '0 3 * * *', destination: /tmp/x, notifications: [{type: pigeon}]}]",
     "jobs.0.notifications.0"),
    ("jobs: [{name: a, table: tbl, destination: /tmp/x}]", "exactly one of cron"),
    ("jobs: [{name: a, table: tbl, cron: '0 0 31 2 *', destination: /tmp/x}]", "jobs.0.cron: '0 0 31 2 *' never fires"),
    ("jobs: [{name: a, table: tbl, cron: '0 0 29 2 1', destination: /tmp/x}]",
     "Try: use two jobs, or restrict only one (write * in the other)"),
    ("jobs: [{name: a, table: tbl, interval_seconds: 1e12, destination: /tmp/x}]", "jobs.0.interval_seconds"),
    ("jobs: [{name: a, table: tbl, interval_seconds: 0.001, destination: /tmp/x}]", "jobs.0.interval_seconds"),
])
def test_bad_configs_fail_clearly(tmp_path, body, needle):
    config = write_config(tmp_path / "bad.yaml", body)
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "serve", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "invalid" in proc.stderr


def test_a_cron_that_never_fires_fails_status_as_json_with_exit_2(tmp_path):
    # it used to pass the config check, then `status` died with an unexpected ValueError
    config = write_config(tmp_path / "bad.yaml", "jobs: [{name: a, table: tbl, cron: '0 0 31 2 *', destination: /tmp/x}]")
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "status", "--config", str(config), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    error = json.loads(proc.stdout)
    assert error["error"] == "UsageError" and "jobs.0.cron: '0 0 31 2 *' never fires" in error["message"]
    assert "February has 28 or 29 days" in error["hint"]


def test_a_failed_job_is_recorded_counted_and_notified(aws_env, tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    hook = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        config = load_config(write_config(tmp_path / "c.yaml", f"""
defaults:
  destination: "{tmp_path / 'b'}"
  notifications: [{{type: webhook, "on": failure, url: "http://127.0.0.1:{hook.server_address[1]}/hook"}}]
jobs: [{{name: ghost, table: no-such-table, cron: "0 3 * * *"}}]
"""))
        [record] = run_once(config)
    finally:
        hook.shutdown()
    assert record.outcome == "failure" and "no-such-table" in record.error
    assert len(received) == 1
    assert "no-such-table" in received[0]["text"] and "DescribeTable" in json.dumps(received[0])


def test_json_log_lines(tables, aws_env, tmp_path):
    import json
    write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'j'}", read_rcu: 100000}}
jobs: [{{name: users, table: svc-users, cron: "0 3 * * *"}}]
""")
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "run", "--config", str(tmp_path / "c.yaml"),
                           "--log-format", "json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert any(l["logger"] == "ddbvault.service.jobs" and "svc-users" in l["message"] for l in lines)
    assert all({"time", "level", "logger", "message"} <= set(l) for l in lines)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_run_json_prints_only_json_on_stdout_and_logs_on_stderr(tables, aws_env, tmp_path, log_format):
    write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'j'}", read_rcu: 100000}}
jobs: [{{name: users, table: svc-users, cron: "0 3 * * *"}}]
""")
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "run", "--config", str(tmp_path / "c.yaml"),
                           "--json", "--log-format", log_format], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    [record] = json.loads(proc.stdout)
    assert (record["job"], record["outcome"], record["items"]) == ("users", "success", 40)
    assert "svc-users" in proc.stderr  # the job's log line, on stderr


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_http_methods_query_strings_and_repeated_lengths(token_service):
    port = token_service.http.port
    get = lambda path: _raw(port, f"GET {path} HTTP/1.0\r\n\r\n".encode())  # noqa: E731
    assert get("/healthz?probe=1").startswith(b"HTTP/1.0 200") and get("/healthz?probe=1").endswith(b"ok\n")
    assert get("/metrics?x").startswith(b"HTTP/1.0 200") and b"ddbvault_up 1.0" in get("/metrics?x")
    assert get("/?refresh=1").startswith(b"HTTP/1.0 200")
    head = _raw(port, b"HEAD /healthz HTTP/1.0\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and b"Content-Length: 3" in head and head.endswith(b"\r\n\r\n")
    for method in (b"PUT", b"DELETE", b"OPTIONS", b"PATCH"):
        answer = _raw(port, method + b" / HTTP/1.0\r\n\r\n")
        assert answer.startswith(b"HTTP/1.0 405") and b"Allow: GET, HEAD, POST" in answer, method
        assert answer.endswith(b"method not allowed: use GET, HEAD, or POST /run/JOB\n")
    assert get("/run/orders").startswith(b"HTTP/1.0 405") and b"Allow: POST" in get("/run/orders")
    assert _raw(port, b"POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n").startswith(b"HTTP/1.0 405")
    twice = b"POST /run/orders HTTP/1.0\r\nContent-Length: 5\r\nContent-Length: 70000\r\n\r\n"
    assert _raw(port, twice).startswith(b"HTTP/1.0 400")
    assert "orders" not in token_service.runner.records


def test_run_with_a_failed_job_ends_with_an_error_line_and_a_hint(tables, aws_env, tmp_path):
    write_config(tmp_path / "c.yaml", f"""
defaults: {{destination: "{tmp_path / 'failing'}", read_rcu: 100000}}
jobs:
  - {{name: gone, table: svc-no-such-table, cron: "0 3 * * *"}}
""")
    proc = subprocess.run([sys.executable, "-m", "ddbvault", "run", "--config", str(tmp_path / "c.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-2:] == [
        "ddbvault: error: jobs failed: gone",
        "Try: each job's error is in the log lines above; run the failed jobs again with --job NAME"]

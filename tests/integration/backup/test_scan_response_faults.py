"""DynamoDB responses that cannot be used: a Scan body that is not JSON, a LastEvaluatedKey that
does not advance, a NextToken returned twice. Each is one AwsError naming the table (and segment),
exit 5, never a crash or an endless loop. A small rewriting proxy sits in front of moto_server's
DynamoDB; everything else is real."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from ddbvault import BackupOptions, backup_table
from ddbvault.errors import AwsError
from ddbvault.exit_codes import ExitCode
from tests.support.tables import create_table, fill_table

pytestmark = pytest.mark.integration


class ScanRewriter:
    """Forwards every request to `upstream`; rewrites the body of successful `operation` responses
    with `rewrite(request_json, response_json) -> bytes`. Drops x-amz-crc32 (the body changed)."""

    def __init__(self, upstream: str, rewrite, operation: str = "Scan"):
        target = urlsplit(upstream)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                forwarded = body
                if operation != "Scan":  # upstream never issued our fake token: ask for page 1 again
                    forwarded = json.dumps({k: v for k, v in json.loads(body).items() if k != "NextToken"}).encode()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                conn.request("POST", self.path, forwarded, {k: v for k, v in self.headers.items()
                                                            if k.lower() not in ("host", "accept-encoding",
                                                                                 "content-length")})
                response = conn.getresponse()
                data = response.read()
                if response.status == 200 and self.headers.get("X-Amz-Target", "").endswith("." + operation):
                    data = outer.rewrite(json.loads(body), json.loads(data))
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("content-length", "x-amz-crc32", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            def log_message(self, *args):
                pass

        self.rewrite = rewrite
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def never_advances(request: dict, response: dict) -> bytes:
    """Every page after the first claims to end where it started."""
    start = request.get("ExclusiveStartKey")
    if start is not None:
        response["LastEvaluatedKey"] = start
    elif response.get("Items"):
        response["LastEvaluatedKey"] = {k: v for k, v in response["Items"][0].items() if k in ("pk", "sk")}
    return json.dumps(response).encode()


def same_token(request: dict, response: dict) -> bytes:
    return json.dumps({**response, "NextToken": "page-2"}).encode()


def not_json(request: dict, response: dict) -> bytes:
    return b'{"Items": [{"pk": {"S": "a\\ud800"}}], "Count": 1'


@pytest.fixture(scope="module")
def table(ddb):
    create_table(ddb, "faulty-scan")
    fill_table(ddb, "faulty-scan", 20, edge_cases=False)
    return "faulty-scan"


@pytest.mark.parametrize("rewrite,needle", [(never_advances, "never advance"), (not_json, "unusable response")])
def test_an_unusable_scan_page_fails_naming_table_and_segment(table, aws_env, tmp_path, monkeypatch, rewrite, needle):
    with ScanRewriter(aws_env, rewrite) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        with pytest.raises(AwsError) as err:
            backup_table(table, str(tmp_path), BackupOptions(segments=2, workers=2, read_rcu=100000))
        assert err.value.code == "MalformedResponse" and err.value.exit_code == ExitCode.AWS_ERROR
        assert needle in err.value.message and "faulty-scan" in err.value.message
        assert "segment " in err.value.message and "of 2" in err.value.message
        proc = subprocess.run([sys.executable, "-m", "ddbvault", "backup", table, "--to", str(tmp_path),
                               "--read-rcu", "100000"], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "AWS_ENDPOINT_URL_DYNAMODB": proxy.url})
    assert proc.returncode == ExitCode.AWS_ERROR and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("ddbvault: error: Scan on ") and "\nTry: " in proc.stderr
    assert not list(tmp_path.rglob("manifest.json"))


def test_a_tag_listing_that_repeats_its_token_fails(table, aws_env, tmp_path, monkeypatch):
    with ScanRewriter(aws_env, same_token, "ListTagsOfResource") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", proxy.url)
        with pytest.raises(AwsError, match="the same NextToken was returned twice") as err:
            backup_table(table, str(tmp_path), BackupOptions(read_rcu=100000))
    assert err.value.action == "ListTagsOfResource" and "faulty-scan" in err.value.resource
    assert not list(tmp_path.rglob("*"))

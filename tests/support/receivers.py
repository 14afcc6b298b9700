"""Real local receivers of notifications, for integration tests: an aiosmtpd mail server (a
subprocess writing a Maildir), a recording webhook server (http.server on a thread), and an SNS
topic on moto with an SQS queue subscribed."""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
import sys
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import boto3

from ddbvault.devtools.local_servers import LocalServer, free_port


def aiosmtpd_server(maildir: Path, *tls_args: str) -> LocalServer:
    """`python -m aiosmtpd` on a free loopback port, storing what it accepts in `maildir`."""
    port = free_port()
    argv = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
            *tls_args, "-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    return LocalServer("aiosmtpd", argv, port, maildir.parent / "aiosmtpd.log")


def received(maildir: Path) -> list[email.message.EmailMessage]:
    box = mailbox.Maildir(maildir, factory=None, create=False)
    return [email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            for key in box.keys()]


def subject(message: email.message.EmailMessage) -> str:
    """The Subject unfolded (long subjects are folded onto a continuation line)."""
    return " ".join(message["Subject"].split())


class _Recorder(BaseHTTPRequestHandler):
    requests: list[dict] = []  # replaced per server
    status_by_path: dict[str, int] = {}

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.requests.append({"path": self.path, "headers": dict(self.headers),
                              "body": json.loads(self.rfile.read(length))})
        status = self.status_by_path.get(self.path.split("?")[0], 404)
        self.send_response(status)
        if status == 302:
            self.send_header("Location", "/hook")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):  # keep test output quiet
        pass


@contextmanager
def webhook_server(status_by_path: dict[str, int]) -> Iterator[tuple[str, list[dict]]]:
    """(base URL, the requests received so far); each path answers its status (302s point to
    /hook), any other path 404."""
    handler = type("Handler", (_Recorder,), {"requests": [], "status_by_path": status_by_path})
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}", handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def sns_topic_with_queue(name: str) -> tuple[str, str]:
    """(topic ARN, queue URL): a topic with an SQS queue subscribed (the usual way to fan alerts
    out, and to test them). boto3 must point at moto."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url


def receive_all(queue_url: str) -> list[dict]:
    """Every SNS envelope waiting in the queue, deleted as read."""
    sqs, envelopes = boto3.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return envelopes
        for message in messages:
            envelopes.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

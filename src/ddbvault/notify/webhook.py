"""WebhookNotifier: a JSON POST of {"text": <Slack line>, "event": <event.to_dict()>} (a RunEvent
or an RpoEvent; `event.outcome` tells them apart).

`text` is what Slack (and Mattermost, Rocket.Chat, …) incoming webhooks display; `event` is for
anything that wants the fields. Only a 2xx answer counts as delivered: redirects are not
followed (a POST body must not be silently dropped or resent elsewhere), and every other status
raises WebhookError, whose message gives the status only, never the URL (it often embeds a token).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .._version import __version__
from .config import WebhookConfig
from .event import Event
from .render import render

__all__ = ["WebhookError", "WebhookNotifier", "payload"]


class WebhookError(Exception):
    """The webhook answered with a status outside 2xx."""

    def __init__(self, status: int, reason: str = ""):
        super().__init__(f"webhook answered HTTP {status}" + (f" {reason}" if reason else ""))
        self.status = status


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError for the 3xx itself


_OPENER = urllib.request.build_opener(_NoRedirects)


def payload(event: Event) -> bytes:
    """The request body for `event`, UTF-8 JSON."""
    return json.dumps({"text": render(event).slack, "event": event.to_dict()},
                      ensure_ascii=False).encode("utf-8")


class WebhookNotifier:
    """POSTs events to `config.url`. send() raises WebhookError for a non-2xx answer, and
    OSError (urllib.error.URLError, TimeoutError, …) when the server cannot be reached."""

    kind = "webhook"

    def __init__(self, config: WebhookConfig):
        self.config = config
        self.on = config.on
        self.target = config.endpoint

    def _request(self, event: Event) -> urllib.request.Request:
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "User-Agent": f"ddbvault/{__version__}"}
        headers.update({name: value.get_secret_value()
                        for name, value in self.config.headers.items()})
        return urllib.request.Request(self.config.url, data=payload(event), headers=headers,
                                      method="POST")

    def send(self, event: Event) -> None:
        """POST `event` once; returns when the server answered 2xx."""
        try:
            with _OPENER.open(self._request(event), timeout=self.config.timeout) as response:
                response.read()
                status = response.status
        except urllib.error.HTTPError as exc:
            exc.close()
            raise WebhookError(exc.code, exc.reason if isinstance(exc.reason, str) else "") from None
        if not 200 <= status < 300:
            raise WebhookError(status)

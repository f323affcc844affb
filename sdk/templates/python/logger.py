"""{{name}}: sends each batch of call logs as JSON lines to the configured `url`."""

import json

from tianji_sdk import LoggerPlugin, http_request


class Logger(LoggerPlugin):
    def setup(self, settings):
        self.url = settings.get("url")
        if not self.url:
            raise ValueError("set `url` (and list its host in allowed_hosts)")

    def deliver(self, events):
        lines = "".join(
            json.dumps({"id": e.id, "model": e.model, "status": e.status, "total_tokens": e.total_tokens, "cost": e.response_cost}) + "\n"
            for e in events
        )
        resp = http_request("POST", self.url, {"content-type": "application/x-ndjson"}, lines.encode())
        if resp.status >= 300:
            raise RuntimeError(f"{self.url} answered {resp.status}")

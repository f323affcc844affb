"""{{name}}: logs a one-line summary of each batch of calls into the proxy's log."""

from tianji_sdk import LoggerPlugin, log


class Logger(LoggerPlugin):
    def deliver(self, events):
        failed = sum(1 for e in events if e.status != "success")
        tokens = sum(e.total_tokens for e in events)
        log.info(f"{len(events)} calls, {failed} failed, {tokens} tokens")

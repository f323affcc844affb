"""Tianji plugin SDK for Python: a guardrail, logger or prompt source is one
class (or one function), with config, granted secrets and logging in reach.

Build with `tianji plugin build` (componentize-py). The WIT records arrive as
the dataclasses componentize-py generates from wit/plugin.wit
(`wit_world.imports.types`: ChatRequest, Message, CallContext, ...; fields in
snake_case); `componentize-py -d wit -w guardrail-plugin bindings .` writes
them out for your editor.

    from tianji_sdk import GuardrailPlugin, block, all_text, settings

    class Guardrail(GuardrailPlugin):
        def on_request(self, request, ctx):
            if "forbidden" in all_text(request):
                return block("mentions a forbidden word", {"word": "forbidden"})
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from componentize_py_types import Err
from wit_world.imports import host
from wit_world.imports.types import ContentPart_Text, LogLevel

_settings: Optional[dict] = None


def settings() -> dict:
    """The plugin's settings: the manifest's [config] overlaid with the operator's."""
    global _settings
    if _settings is None:
        _settings = json.loads(host.config() or "{}")
    return _settings


def secret(name: str) -> Optional[str]:
    """A secret the manifest's `secrets` grants this plugin, or None."""
    return host.secret(name)


def now_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return host.now_ms()


class log:
    """The proxy's log, tagged with the plugin's name."""

    @staticmethod
    def debug(message: Any) -> None:
        host.log(LogLevel.DEBUG, str(message))

    @staticmethod
    def info(message: Any) -> None:
        host.log(LogLevel.INFO, str(message))

    @staticmethod
    def warn(message: Any) -> None:
        host.log(LogLevel.WARN, str(message))

    @staticmethod
    def error(message: Any) -> None:
        host.log(LogLevel.ERROR, str(message))


@dataclass
class HttpResponse:
    """An HTTP answer: `status`, `headers` (lower-case names), `body` (bytes)."""

    status: int
    headers: dict
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(method: str, url: str, headers: Optional[dict] = None, body: bytes = b"") -> HttpResponse:
    """Sends an HTTP request to a host the manifest's `allowed_hosts` (or the
    operator) allows; raises `Err` with the reason when it cannot."""
    r = host.http_request(method, url, list((headers or {}).items()), body)
    return HttpResponse(r.status, dict(r.headers), bytes(r.body))


def post_json(url: str, payload: Any, headers: Optional[dict] = None) -> HttpResponse:
    """POSTs `payload` as JSON; see `http_request`."""
    return http_request("POST", url, {"content-type": "application/json", **(headers or {})}, json.dumps(payload).encode())


@dataclass
class Allow:
    """Let it through unchanged."""


@dataclass
class Block:
    """Refuse it; `reason` and `details` (any JSON value) reach the client."""

    reason: str
    details: Any = None


@dataclass
class Modify:
    """Let this changed request (messages, tools) or response (choices) through instead."""

    changed: Any


def allow() -> Allow:
    return Allow()


def block(reason: str, details: Any = None) -> Block:
    return Block(str(reason), details)


def modify(changed: Any) -> Modify:
    return Modify(changed)


def text_of(message) -> str:
    """A message's text parts, joined by newlines."""
    return "\n".join(p.value for p in message.content if isinstance(p, ContentPart_Text))


def all_text(request) -> str:
    """Every message's text, joined by newlines."""
    return "\n".join(text_of(m) for m in request.messages)


def map_text(message, fn: Callable[[str], str]):
    """Applies `fn` to each text part of `message`, in place; returns it."""
    message.content = [ContentPart_Text(fn(p.value)) if isinstance(p, ContentPart_Text) else p for p in message.content]
    return message


class _Plugin:
    """componentize-py makes a new object of the exported class for every call,
    so each plugin class keeps one instance, set up once, that serves them all."""

    def _plugin(self):
        cls = type(self)
        inst = cls.__dict__.get("_tianji_instance")
        if inst is None:
            inst = object.__new__(cls)
            inst.setup(settings())
            cls._tianji_instance = inst
        return inst

    def setup(self, settings: dict) -> None:
        """Runs once per instance with the settings; raise to refuse the configuration."""


def _failure(e: BaseException) -> Err:
    # Exceptions other than Err trap the component: report them as the plugin's error.
    return e if isinstance(e, Err) else Err(f"{type(e).__name__}: {e}")


def _verdict(v, allow_case, block_case, modify_case):
    """The WIT variant (request or response verdict) for an SDK verdict."""
    from wit_world.exports.guardrail import Violation

    if v is None or isinstance(v, Allow):
        return allow_case()
    if isinstance(v, Block):
        return block_case(Violation(reason=v.reason, details=json.dumps(v.details)))
    if isinstance(v, Modify):
        return modify_case(v.changed)
    raise Err(f"a guardrail returned {type(v).__name__}; return allow(), block(...) or modify(...)")


def _request_verdict(v):
    from wit_world.exports import guardrail as g

    return _verdict(v, g.RequestVerdict_Allow, g.RequestVerdict_Block, g.RequestVerdict_Modify)


def _response_verdict(v):
    from wit_world.exports import guardrail as g

    return _verdict(v, g.ResponseVerdict_Allow, g.ResponseVerdict_Block, g.ResponseVerdict_Modify)


class GuardrailPlugin(_Plugin):
    """Subclass as `class Guardrail(GuardrailPlugin)`; override what you check."""

    def on_request(self, request, ctx):
        """Checks a request; return None (allow), block(...) or modify(request)."""
        return None

    def on_response(self, response, request, ctx):
        """Checks a response (for streams: the text so far)."""
        return None

    # The WIT interface (tianji:plugin/guardrail), called by the host.
    def init(self) -> None:
        try:
            self._plugin()
        except BaseException as e:
            raise _failure(e)

    def check_request(self, ctx, request):
        try:
            return _request_verdict(self._plugin().on_request(request, ctx))
        except BaseException as e:
            raise _failure(e)

    def check_response(self, ctx, request, response):
        try:
            return _response_verdict(self._plugin().on_response(response, request, ctx))
        except BaseException as e:
            raise _failure(e)


def guardrail(check_request: Callable, check_response: Optional[Callable] = None) -> type:
    """`Guardrail = guardrail(fn)`: a guardrail class from a function `(request, ctx) -> verdict`."""

    class _Guardrail(GuardrailPlugin):
        def on_request(self, request, ctx):
            return check_request(request, ctx)

        def on_response(self, response, request, ctx):
            return check_response(response, request, ctx) if check_response else None

    return _Guardrail


class LoggerPlugin(_Plugin):
    """Subclass as `class Logger(LoggerPlugin)` and implement `deliver(events)`."""

    def deliver(self, events: list) -> None:
        raise NotImplementedError("implement deliver(events)")

    def init(self) -> None:
        try:
            self._plugin()
        except BaseException as e:
            raise _failure(e)

    def log_batch(self, events) -> None:
        try:
            self._plugin().deliver(events)
        except BaseException as e:
            raise _failure(e)


class PromptNotFound(Exception):
    """No such prompt, version or label."""


class MissingVariables(Exception):
    """The prompt needs variables the request did not give."""

    def __init__(self, names: list):
        super().__init__(", ".join(names))
        self.names = list(names)


class PromptSourcePlugin(_Plugin):
    """Subclass as `class PromptSource(PromptSourcePlugin)` and implement `prompt(...)`."""

    def prompt(self, prompt_id: str, version: Optional[str], label: Optional[str], variables: dict):
        """Returns (messages, metadata dict); raise PromptNotFound or MissingVariables."""
        raise NotImplementedError("implement prompt(...)")

    def init(self) -> None:
        try:
            self._plugin()
        except BaseException as e:
            raise _failure(e)

    def get_prompt(self, prompt_id, version, label, variables):
        from wit_world.exports.prompt_source import Prompt, PromptError_Failed, PromptError_MissingVariables, PromptError_NotFound

        try:
            messages, metadata = self._plugin().prompt(prompt_id, version, label, json.loads(variables or "{}"))
            return Prompt(messages=messages, metadata=json.dumps(metadata or {}))
        except PromptNotFound as e:
            raise Err(PromptError_NotFound(str(e)))
        except MissingVariables as e:
            raise Err(PromptError_MissingVariables(e.names))
        except BaseException as e:
            raise Err(PromptError_Failed(f"{type(e).__name__}: {e}"))

"""An example third-party guardrail in Python: masks e-mail addresses and phone
numbers in requests before they reach the model, and in answers before they
reach the client. Settings: `mask` (default `[REDACTED]`)."""

import re

from tianji_sdk import GuardrailPlugin, map_text, modify, text_of

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?<![\w+])\+?\d[\d\s().-]{7,}\d(?!\w)")


def redact(text: str, mask: str) -> str:
    return PHONE.sub(mask, EMAIL.sub(mask, text))


class Guardrail(GuardrailPlugin):
    def setup(self, settings):
        self.mask = str(settings.get("mask", "[REDACTED]"))

    def on_request(self, request, ctx):
        changed = [m for m in request.messages if redact(text_of(m), self.mask) != text_of(m)]
        if not changed:
            return None
        for m in request.messages:
            map_text(m, lambda t: redact(t, self.mask))
        return modify(request)

    def on_response(self, response, request, ctx):
        if not any(redact(text_of(c.message), self.mask) != text_of(c.message) for c in response.choices):
            return None
        for c in response.choices:
            map_text(c.message, lambda t: redact(t, self.mask))
        return modify(response)

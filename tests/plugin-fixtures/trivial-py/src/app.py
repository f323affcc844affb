"""The trivial guardrail of the benchmark, in Python: blocks a request whose
text contains `word` (default `forbidden`), like plugins/trivial_guardrail."""

from wit_world.imports.types import ContentPart_Text

from tianji_sdk import GuardrailPlugin, block


class Guardrail(GuardrailPlugin):
    def setup(self, settings):
        self.word = settings.get("word", "forbidden")

    def on_request(self, request, ctx):
        for m in request.messages:
            for p in m.content:
                if isinstance(p, ContentPart_Text) and self.word in p.value:
                    return block(f"message contains '{self.word}'", {"word": self.word})

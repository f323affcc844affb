"""{{name}}: blocks requests that mention the configured `word`."""

from tianji_sdk import GuardrailPlugin, all_text, block


class Guardrail(GuardrailPlugin):
    def setup(self, settings):
        self.word = str(settings.get("word", "forbidden")).lower()

    def on_request(self, request, ctx):
        if self.word in all_text(request).lower():
            return block(f"the request mentions '{self.word}'", {"word": self.word})

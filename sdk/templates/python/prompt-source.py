"""{{name}}: serves the prompt `greeting`, with `name` filled from the request's variables."""

from wit_world.imports.types import ContentPart_Text, Message

from tianji_sdk import MissingVariables, PromptNotFound, PromptSourcePlugin


class PromptSource(PromptSourcePlugin):
    def prompt(self, prompt_id, version, label, variables):
        if prompt_id != "greeting":
            raise PromptNotFound(f"no prompt '{prompt_id}'")
        if "name" not in variables:
            raise MissingVariables(["name"])
        text = f"Greet {variables['name']} warmly."
        return [Message(role="system", content=[ContentPart_Text(text)], name=None, tool_calls=[], tool_call_id=None)], {}

// An example third-party guardrail in JavaScript: blocks requests that mention
// a configured competitor, and answers that do (streamed answers included:
// the proxy checks the text as it grows). Settings: `competitors` (names,
// matched case-insensitively as whole words).
import { defineGuardrail, block, allText, textOf, settings } from './tianji/sdk.js';

let patterns;

function mentioned(text) {
  return patterns.find(({ re }) => re.test(text))?.name;
}

export const guardrail = defineGuardrail({
  init(s) {
    const names = s.competitors ?? [];
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) throw '`competitors` must be a list of names';
    const escape = (n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    patterns = names.map((name) => ({ name, re: new RegExp(`\\b${escape(name)}\\b`, 'i') }));
  },
  checkRequest(request) {
    const name = mentioned(allText(request));
    if (name) return block(`the request mentions the competitor ${name}`, { competitor: name });
  },
  checkResponse(response) {
    for (const choice of response.choices) {
      const name = mentioned(textOf(choice.message));
      if (name) return block(`the answer mentions the competitor ${name}`, { competitor: name, choice: choice.index });
    }
  },
});

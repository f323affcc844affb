// The trivial guardrail of the benchmark, in JavaScript: blocks a request
// whose text contains `word` (default `forbidden`), like plugins/trivial_guardrail.
import { defineGuardrail, block, settings } from './tianji/sdk.js';

let word;

export const guardrail = defineGuardrail({
  init(s) { word = s.word ?? 'forbidden'; },
  checkRequest(request) {
    for (const m of request.messages) {
      for (const p of m.content) {
        if (p.tag === 'text' && p.val.includes(word)) return block(`message contains '${word}'`, { word });
      }
    }
  },
});

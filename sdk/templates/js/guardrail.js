// {{name}}: blocks requests that mention the configured `word`.
import { defineGuardrail, block, allText, settings } from './tianji/sdk.js';

export const guardrail = defineGuardrail((request, ctx) => {
  const word = String(settings().word ?? 'forbidden').toLowerCase();
  if (allText(request).toLowerCase().includes(word)) {
    return block(`the request mentions '${word}'`, { word });
  }
});

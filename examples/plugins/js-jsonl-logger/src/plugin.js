// An example third-party logger in JavaScript: posts each batch of call logs
// as JSON lines to a collector (`url`; its host must be in allowed_hosts).
import { defineLogger, settings } from './tianji/sdk.js';

export const logger = defineLogger(async (events) => {
  const url = settings().url;
  if (!url) throw 'set `url` to the collector (and list its host in allowed_hosts)';
  const lines = events.map((e) => JSON.stringify({
    id: e.id, model_group: e.modelGroup, model: e.model, status: e.status,
    prompt_tokens: Number(e.promptTokens), completion_tokens: Number(e.completionTokens), cost: e.responseCost,
  }));
  const resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' });
  if (resp.status >= 300) throw `the collector answered ${resp.status}`;
});

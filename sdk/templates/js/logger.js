// {{name}}: sends each batch of call logs as JSON lines to the configured `url`.
import { defineLogger, settings } from './tianji/sdk.js';

export const logger = defineLogger(async (events) => {
  const url = settings().url;
  if (!url) throw 'set `url` (and list its host in allowed_hosts)';
  const body = events.map((e) => JSON.stringify({ id: e.id, model: e.model, status: e.status, total_tokens: Number(e.totalTokens), cost: e.responseCost })).join('\n') + '\n';
  const resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
  if (resp.status >= 300) throw `${url} answered ${resp.status}`;
});

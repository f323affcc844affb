// Tianji plugin SDK for JavaScript: a guardrail, logger or prompt source is
// one function (or a few), with config, granted secrets, logging and HTTP in
// reach. Build with `tianji plugin build` (componentize-js); the types are in
// sdk.d.ts, generated from wit/plugin.wit.
import { log as hostLog, config as hostConfig, secret as hostSecret, nowMs as hostNowMs } from 'tianji:plugin/host@0.1.0';

let parsedSettings;

/** The plugin's settings: the manifest's `[config]` overlaid with the operator's. */
export function settings() {
  if (parsedSettings === undefined) parsedSettings = JSON.parse(hostConfig() || '{}');
  return parsedSettings;
}

/** A secret the manifest's `secrets` grants this plugin, or `undefined`. */
export function secret(name) {
  return hostSecret(name);
}

/** Milliseconds since the Unix epoch. */
export function nowMs() {
  return Number(hostNowMs());
}

/** Writes to the proxy's log, tagged with the plugin's name. */
export const log = {
  trace: (m) => hostLog('trace', String(m)),
  debug: (m) => hostLog('debug', String(m)),
  info: (m) => hostLog('info', String(m)),
  warn: (m) => hostLog('warn', String(m)),
  error: (m) => hostLog('error', String(m)),
};

/** Lets the request or response through unchanged. */
export const allow = () => ({ tag: 'allow' });

/** Refuses it; `reason` and `details` (any JSON value) reach the client. */
export const block = (reason, details = null) => ({ tag: 'block', val: { reason: String(reason), details: JSON.stringify(details ?? null) } });

/** Lets a changed request (messages, tools) or response (choices) through instead. */
export const modify = (changed) => ({ tag: 'modify', val: changed });

/** The text of a message (its text parts, joined by newlines). */
export function textOf(message) {
  return message.content.filter((p) => p.tag === 'text').map((p) => p.val).join('\n');
}

/** Every message's text, joined by newlines. */
export function allText(request) {
  return request.messages.map(textOf).join('\n');
}

/** A copy of `message` with `fn` applied to each text part. */
export function mapText(message, fn) {
  return { ...message, content: message.content.map((p) => (p.tag === 'text' ? { tag: 'text', val: fn(p.val) } : p)) };
}

/** POSTs JSON to an allowed host; resolves to `{status, json(), text()}`. */
export async function postJson(url, body, headers = {}) {
  const resp = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await resp.text();
  return { status: resp.status, text: () => text, json: () => JSON.parse(text) };
}

// Exceptions must leave a component as strings: anything else traps it.
function asError(e) {
  if (typeof e === 'string') return e;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`;
}

function guarded(fn) {
  return (...args) => {
    try {
      const out = fn(...args);
      if (out && typeof out.then === 'function') {
        return out.then((v) => v, (e) => { throw asError(e); });
      }
      return out;
    } catch (e) {
      throw asError(e);
    }
  };
}

const verdict = (v) => v ?? allow();

/**
 * A guardrail: `defineGuardrail((request, ctx) => verdict)` checks requests;
 * `defineGuardrail({ init, checkRequest, checkResponse })` checks both
 * (`checkResponse(response, request, ctx)`). Returning nothing allows.
 */
export function defineGuardrail(spec) {
  const s = typeof spec === 'function' ? { checkRequest: spec } : spec;
  return {
    init: guarded(() => { s.init?.(settings()); }),
    checkRequest: guarded((ctx, request) => {
      if (!s.checkRequest) return allow();
      const out = s.checkRequest(request, ctx);
      return out && typeof out.then === 'function' ? out.then(verdict) : verdict(out);
    }),
    checkResponse: guarded((ctx, request, response) => {
      if (!s.checkResponse) return allow();
      const out = s.checkResponse(response, request, ctx);
      return out && typeof out.then === 'function' ? out.then(verdict) : verdict(out);
    }),
  };
}

/** A logger: `defineLogger((events) => ...)` or `{ init, logBatch }`. */
export function defineLogger(spec) {
  const s = typeof spec === 'function' ? { logBatch: spec } : spec;
  return {
    init: guarded(() => { s.init?.(settings()); }),
    logBatch: guarded((events) => s.logBatch(events)),
  };
}

/** Prompt-source errors: throw `notFound(...)`, `missingVariables([...])` or `failed(...)`. */
export const notFound = (message) => ({ payload: { tag: 'not-found', val: String(message) } });
export const missingVariables = (names) => ({ payload: { tag: 'missing-variables', val: names.map(String) } });
export const failed = (message) => ({ payload: { tag: 'failed', val: String(message) } });

/** A prompt source: `definePromptSource((id, {version, label, variables}) => ({messages, metadata}))`. */
export function definePromptSource(spec) {
  const s = typeof spec === 'function' ? { getPrompt: spec } : spec;
  return {
    init: guarded(() => { s.init?.(settings()); }),
    getPrompt: (id, version, label, variables) => {
      try {
        const p = s.getPrompt(id, { version, label, variables: JSON.parse(variables || '{}') });
        return { messages: p.messages, metadata: JSON.stringify(p.metadata ?? {}) };
      } catch (e) {
        if (e && typeof e === 'object' && 'payload' in e) throw e;
        throw { payload: { tag: 'failed', val: asError(e) } };
      }
    },
  };
}

/** A user message with one text part (for prompt sources). */
export const textMessage = (role, text) => ({ role, content: [{ tag: 'text', val: text }], name: undefined, toolCalls: [], toolCallId: undefined });

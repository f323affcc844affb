// Reads a key from an interface the host does not provide.
import { get } from 'acme:fixture/kv';

export const guardrail = {
  init() {},
  checkRequest() { return get('policy') === 'deny' ? { tag: 'block', val: { reason: 'denied', details: 'null' } } : { tag: 'allow' }; },
  checkResponse() { return { tag: 'allow' }; },
};

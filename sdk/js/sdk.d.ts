// Types of sdk.js. The WIT records are in types/ (generated from
// wit/plugin.wit by `jco guest-types`; regenerate with scripts/plugin-tools types).
/// <reference path="./types/interfaces/tianji-plugin-types.d.ts" />
/// <reference path="./types/interfaces/tianji-plugin-guardrail.d.ts" />
/// <reference path="./types/interfaces/tianji-plugin-logger.d.ts" />
/// <reference path="./types/interfaces/tianji-plugin-prompt-source.d.ts" />
import type { CallContext, ChatRequest, ChatResponse, Message } from 'tianji:plugin/types@0.1.0';
import type { RequestVerdict, ResponseVerdict } from 'tianji:plugin/guardrail@0.1.0';
import type { LogEvent } from 'tianji:plugin/logger@0.1.0';

export type { CallContext, ChatRequest, ChatResponse, Message, RequestVerdict, ResponseVerdict, LogEvent };

/** The plugin's settings: the manifest's `[config]` overlaid with the operator's `litellm_params`. */
export function settings(): Record<string, any>;
/** A secret the manifest's `secrets` grants this plugin, or `undefined`. */
export function secret(name: string): string | undefined;
/** Milliseconds since the Unix epoch. */
export function nowMs(): number;
/** The proxy's log, tagged with the plugin's name. */
export const log: { trace(m: unknown): void; debug(m: unknown): void; info(m: unknown): void; warn(m: unknown): void; error(m: unknown): void };

/** Let it through unchanged. */
export function allow(): { tag: 'allow' };
/** Refuse it: `reason` and `details` (any JSON value) reach the client. */
export function block(reason: string, details?: unknown): { tag: 'block'; val: { reason: string; details: string } };
/** Let this changed request (messages, tools) or response (choices) through instead. */
export function modify<T extends ChatRequest | ChatResponse>(changed: T): { tag: 'modify'; val: T };

/** A message's text parts, joined by newlines. */
export function textOf(message: Message): string;
/** Every message's text, joined by newlines. */
export function allText(request: ChatRequest): string;
/** A copy of `message` with `fn` applied to each text part. */
export function mapText(message: Message, fn: (text: string) => string): Message;
/** POST JSON to a host the manifest's `allowed_hosts` lists. */
export function postJson(url: string, body: unknown, headers?: Record<string, string>): Promise<{ status: number; text(): string; json(): any }>;

type Maybe<T> = T | undefined | null | void;
type OrPromise<T> = T | Promise<T>;
export interface GuardrailSpec {
  /** Runs once per instance with the settings; throw to refuse the configuration. */
  init?(settings: Record<string, any>): void;
  /** Checks a request; return nothing to allow. */
  checkRequest?(request: ChatRequest, ctx: CallContext): OrPromise<Maybe<RequestVerdict>>;
  /** Checks a response (for streams: the text so far); return nothing to allow. */
  checkResponse?(response: ChatResponse, request: ChatRequest, ctx: CallContext): OrPromise<Maybe<ResponseVerdict>>;
}
/** `export const guardrail = defineGuardrail(...)`: a function checks requests, an object may check both. */
export function defineGuardrail(spec: GuardrailSpec | GuardrailSpec['checkRequest']): unknown;

export interface LoggerSpec {
  init?(settings: Record<string, any>): void;
  /** Delivers one batch; throw to report a failed delivery. */
  logBatch(events: LogEvent[]): OrPromise<void>;
}
/** `export const logger = defineLogger(...)`. */
export function defineLogger(spec: LoggerSpec | LoggerSpec['logBatch']): unknown;

export interface PromptSpec {
  init?(settings: Record<string, any>): void;
  getPrompt(id: string, opts: { version?: string; label?: string; variables: Record<string, unknown> }): { messages: Message[]; metadata?: Record<string, unknown> };
}
/** `export const promptSource = definePromptSource(...)`. */
export function definePromptSource(spec: PromptSpec | PromptSpec['getPrompt']): unknown;
export function notFound(message: string): unknown;
export function missingVariables(names: string[]): unknown;
export function failed(message: string): unknown;
/** A message with one text part. */
export function textMessage(role: string, text: string): Message;

/// <reference path="./tianji-plugin-types.d.ts" />
declare module 'tianji:plugin/prompt-source@0.1.0' {
  /**
   * Called once per instance before the first lookup.
   */
  export function init(): void;
  /**
   * Fetches and renders one prompt; `variables` is a JSON object.
   */
  export function getPrompt(id: string, version: string | undefined, label: string | undefined, variables: string): Prompt;
  export type Message = import('tianji:plugin/types@0.1.0').Message;
  /**
   * A resolved prompt.
   */
  export interface Prompt {
    /**
     * The messages, with variables substituted.
     */
    messages: Array<Message>,
    /**
     * Model and parameters the prompt carries, as a JSON object; as in
     * LiteLLM they override the request's.
     */
    metadata: string,
  }
  /**
   * Why a prompt could not be resolved.
   */
  export type PromptError = PromptErrorNotFound | PromptErrorMissingVariables | PromptErrorFailed;
  /**
   * No such prompt, version or label (404).
   */
  export interface PromptErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  /**
   * Variables the prompt needs but the request did not give (400).
   */
  export interface PromptErrorMissingVariables {
    tag: 'missing-variables',
    val: Array<string>,
  }
  /**
   * Anything else (the source is down, ...).
   */
  export interface PromptErrorFailed {
    tag: 'failed',
    val: string,
  }
}

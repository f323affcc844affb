/// <reference path="./tianji-plugin-types.d.ts" />
declare module 'tianji:plugin/guardrail@0.1.0' {
  /**
   * Called once per instance before its first check. An error marks the
   * plugin failed with that message (for example an invalid config).
   */
  export function init(): void;
  /**
   * Checks a request before (or, `during-call`, while) it goes upstream.
   * An error is a failure of the guardrail, handled by its failure policy.
   */
  export function checkRequest(ctx: CallContext, request: ChatRequest): RequestVerdict;
  /**
   * Checks a response before it reaches the client. For streams the host
   * calls this with the text assembled so far (see the README).
   */
  export function checkResponse(ctx: CallContext, request: ChatRequest, response: ChatResponse): ResponseVerdict;
  export type CallContext = import('tianji:plugin/types@0.1.0').CallContext;
  export type ChatRequest = import('tianji:plugin/types@0.1.0').ChatRequest;
  export type ChatResponse = import('tianji:plugin/types@0.1.0').ChatResponse;
  /**
   * Why a request or response was refused; both fields reach the client.
   */
  export interface Violation {
    /**
     * A one-line reason.
     */
    reason: string,
    /**
     * Details as a JSON value (categories, matched entities, scores).
     */
    details: string,
  }
  /**
   * The decision about a request.
   */
  export type RequestVerdict = RequestVerdictAllow | RequestVerdictBlock | RequestVerdictModify;
  /**
   * Let it through unchanged.
   */
  export interface RequestVerdictAllow {
    tag: 'allow',
  }
  /**
   * Refuse it.
   */
  export interface RequestVerdictBlock {
    tag: 'block',
    val: Violation,
  }
  /**
   * Let it through with these messages and tools instead.
   */
  export interface RequestVerdictModify {
    tag: 'modify',
    val: ChatRequest,
  }
  /**
   * The decision about a response.
   */
  export type ResponseVerdict = ResponseVerdictAllow | ResponseVerdictBlock | ResponseVerdictModify;
  /**
   * Let it through unchanged.
   */
  export interface ResponseVerdictAllow {
    tag: 'allow',
  }
  /**
   * Refuse it.
   */
  export interface ResponseVerdictBlock {
    tag: 'block',
    val: Violation,
  }
  /**
   * Let it through with these choices instead.
   */
  export interface ResponseVerdictModify {
    tag: 'modify',
    val: ChatResponse,
  }
}

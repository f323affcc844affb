declare module 'tianji:plugin/logger@0.1.0' {
  /**
   * Called once per instance before the first batch.
   */
  export function init(): void;
  /**
   * Delivers one batch. An error is logged and the batch discarded.
   */
  export function logBatch(events: Array<LogEvent>): void;
  /**
   * One finished call: LiteLLM's standard logging payload.
   */
  export interface LogEvent {
    /**
     * The call id.
     */
    id: string,
    /**
     * `acompletion`, `aembedding`, ...
     */
    callType: string,
    /**
     * The model group requested.
     */
    modelGroup: string,
    /**
     * The upstream model called.
     */
    model: string,
    /**
     * The deployment id.
     */
    modelId?: string,
    /**
     * The provider.
     */
    provider?: string,
    /**
     * The API base called.
     */
    apiBase?: string,
    /**
     * Prompt tokens.
     */
    promptTokens: bigint,
    /**
     * Completion tokens.
     */
    completionTokens: bigint,
    /**
     * Sum of both.
     */
    totalTokens: bigint,
    /**
     * Cost in USD.
     */
    responseCost: number,
    /**
     * Start, Unix seconds.
     */
    startTime: number,
    /**
     * End, Unix seconds.
     */
    endTime: number,
    /**
     * `success` or `failure`.
     */
    status: string,
    /**
     * The error message on failure.
     */
    error?: string,
    /**
     * The end user.
     */
    endUser?: string,
    /**
     * The request's tags.
     */
    tags: Array<string>,
    /**
     * The request's metadata, JSON.
     */
    metadata: string,
    /**
     * The request messages as JSON, unless redaction is configured.
     */
    messages?: string,
    /**
     * The response as JSON, unless redaction is configured.
     */
    response?: string,
  }
}

declare module 'tianji:plugin/types@0.1.0' {
  /**
   * An image referenced by a message part.
   */
  export interface ImageUrl {
    /**
     * `https://...` or a `data:` URL.
     */
    url: string,
    /**
     * `auto`, `low` or `high` when the client set it.
     */
    detail?: string,
  }
  /**
   * One part of a message's content.
   */
  export type ContentPart = ContentPartText | ContentPartImage;
  /**
   * Text.
   */
  export interface ContentPartText {
    tag: 'text',
    val: string,
  }
  /**
   * An image.
   */
  export interface ContentPartImage {
    tag: 'image',
    val: ImageUrl,
  }
  /**
   * A function call the assistant asked for.
   */
  export interface ToolCall {
    /**
     * The call id (`call_...`).
     */
    id: string,
    /**
     * The function's name.
     */
    name: string,
    /**
     * The arguments, as the JSON text the model produced.
     */
    arguments: string,
  }
  /**
   * One chat message.
   */
  export interface Message {
    /**
     * `system`, `developer`, `user`, `assistant` or `tool`.
     */
    role: string,
    /**
     * The content; a plain string arrives as one `text` part.
     */
    content: Array<ContentPart>,
    /**
     * The participant name, when set.
     */
    name?: string,
    /**
     * Tool calls of an assistant message.
     */
    toolCalls: Array<ToolCall>,
    /**
     * For a `tool` message: the call it answers.
     */
    toolCallId?: string,
  }
  /**
   * A tool the client offers the model.
   */
  export interface Tool {
    /**
     * The tool type: `function`, or a provider's built-in type.
     */
    kind: string,
    /**
     * The function's name.
     */
    name: string,
    /**
     * Its description.
     */
    description?: string,
    /**
     * Its parameters' JSON schema, as JSON text.
     */
    parameters?: string,
  }
  /**
   * A chat-completion request.
   */
  export interface ChatRequest {
    /**
     * The model (group) the client asked for.
     */
    model: string,
    /**
     * The conversation.
     */
    messages: Array<Message>,
    /**
     * Tools offered to the model.
     */
    tools: Array<Tool>,
    /**
     * The whole request body as JSON, for fields the typed model lacks,
     * when the plugin's manifest sets `full_body = true`; else `{}`.
     * Read-only: a `modify` verdict changes `messages` and `tools`.
     */
    body: string,
  }
  /**
   * One answer of a chat completion.
   */
  export interface Choice {
    /**
     * Its index.
     */
    index: number,
    /**
     * The assistant message.
     */
    message: Message,
    /**
     * `stop`, `length`, `tool_calls`, `content_filter`, ...
     */
    finishReason?: string,
  }
  /**
   * A chat-completion response.
   */
  export interface ChatResponse {
    /**
     * The model that answered.
     */
    model: string,
    /**
     * The answers.
     */
    choices: Array<Choice>,
    /**
     * The whole response body as JSON when the manifest sets
     * `full_body = true`; else `{}`. Read-only.
     */
    body: string,
  }
  /**
   * When a guardrail runs, as LiteLLM's `mode` names it.
   * # Variants
   * 
   * ## `"pre-call"`
   * 
   * Before the upstream call.
   * ## `"during-call"`
   * 
   * In parallel with the upstream call.
   * ## `"post-call"`
   * 
   * After the upstream answered, before the client sees the answer.
   * ## `"logging-only"`
   * 
   * After the call, without the power to change it.
   */
  export type Phase = 'pre-call' | 'during-call' | 'post-call' | 'logging-only';
  /**
   * Who is calling and what for.
   */
  export interface CallContext {
    /**
     * The request id (`x-litellm-call-id`).
     */
    requestId: string,
    /**
     * `acompletion`, `atext_completion`, `aembedding`, ...
     */
    callType: string,
    /**
     * The phase this check runs in.
     */
    phase: Phase,
    /**
     * The model group the client asked for.
     */
    modelGroup: string,
    /**
     * The configured name of this guardrail (`guardrail_name`).
     */
    guardrailName: string,
    /**
     * The virtual key's alias, when a virtual key is used.
     */
    keyAlias?: string,
    /**
     * The key's team.
     */
    teamId?: string,
    /**
     * The key's user.
     */
    userId?: string,
    /**
     * The end user (the request's `user` field).
     */
    endUser?: string,
    /**
     * The request's `metadata`, as a JSON object.
     */
    metadata: string,
  }
  /**
   * Severity of a log line.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * Very detailed.
   * ## `"debug"`
   * 
   * Detailed.
   * ## `"info"`
   * 
   * Normal.
   * ## `"warn"`
   * 
   * Something is off.
   * ## `"error"`
   * 
   * Something failed.
   */
  export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

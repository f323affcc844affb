/// <reference path="./tianji-plugin-types.d.ts" />
declare module 'tianji:plugin/host@0.1.0' {
  /**
   * Writes a line into the proxy's log, tagged with the plugin's name.
   */
  export function log(level: LogLevel, message: string): void;
  /**
   * The plugin's configuration as a JSON object: the manifest's defaults
   * overlaid with the operator's settings (for a guardrail, the keys of its
   * `litellm_params` other than `guardrail`, `mode` and `default_on`).
   */
  export function config(): string;
  /**
   * A secret the operator granted this plugin, by name (`secrets:` in the
   * manifest); `none` when it is not granted or not set.
   */
  export function secret(name: string): string | undefined;
  /**
   * Wall-clock time in milliseconds since the Unix epoch.
   */
  export function nowMs(): bigint;
  /**
   * Sends an HTTP request to a host the operator allowed (the same
   * allow-list as `wasi:http/outgoing-handler`), for languages whose
   * component toolchains have no `wasi:http` client at hand (Python).
   * Bounded by the call's deadline; an error names what failed.
   */
  export function httpRequest(method: string, url: string, headers: Array<[string, string]>, body: Uint8Array): HttpResponse;
  export type LogLevel = import('tianji:plugin/types@0.1.0').LogLevel;
  /**
   * An answer to [`http-request`].
   */
  export interface HttpResponse {
    /**
     * The status code.
     */
    status: number,
    /**
     * The headers, names lower-case.
     */
    headers: Array<[string, string]>,
    /**
     * The body.
     */
    body: Uint8Array,
  }
}

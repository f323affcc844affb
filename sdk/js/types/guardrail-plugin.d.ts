/// <reference path="./interfaces/tianji-plugin-guardrail.d.ts" />
/// <reference path="./interfaces/tianji-plugin-host.d.ts" />
/// <reference path="./interfaces/tianji-plugin-types.d.ts" />
declare module 'tianji:plugin/guardrail-plugin@0.1.0' {
  export type * as TianjiPluginHost010 from 'tianji:plugin/host@0.1.0'; // import tianji:plugin/host@0.1.0
  export type * as TianjiPluginTypes010 from 'tianji:plugin/types@0.1.0'; // import tianji:plugin/types@0.1.0
  export * as guardrail from 'tianji:plugin/guardrail@0.1.0'; // export tianji:plugin/guardrail@0.1.0
}

import type { FormatId } from '../formats/canonical.js';

export type AuthScheme = 'bearer' | 'api-key' | 'x-api-key' | 'none';

/**
 * A provider adapter: what is specific to one upstream API family. Everything
 * here is data; the pipeline is generic over it, so core code never names a
 * provider. A provider with quirks adds a field here, not an `if` in the core.
 */
export interface ProviderAdapter {
  /** The `type` users write in keel.yaml. */
  readonly type: string;
  /** The chat wire format the upstream speaks. */
  readonly format: FormatId;
  /** Used when the config gives no `base_url`; absent means `base_url` is required. */
  readonly defaultBaseUrl?: string;
  readonly defaultAuth: AuthScheme;
  /** Appended to the base URL for chat requests. */
  readonly chatPath: string;
  /** Appended to the base URL for embeddings; absent means the provider has none. */
  readonly embeddingsPath?: string;
  /** Appended to the base URL to list models (GET): the active health check's `models` method. */
  readonly modelsPath?: string;
  /**
   * The API continues a trailing assistant message (a prefill) instead of answering
   * anew, so a stream that broke mid-answer can be completed there. Overridable per provider.
   */
  readonly supportsPrefill: boolean;
  /** OTel `gen_ai.provider.name` (semconv well-known value); absent: the provider's config name. */
  readonly genAiName?: string;
  /** Headers every request needs (API version pins). */
  readonly headers?: Readonly<Record<string, string>>;
}

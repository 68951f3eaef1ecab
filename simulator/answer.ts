/**
 * Deterministic answers: the same request always gets the same text, tool call
 * and usage, so tests can compare a stream with a non-stream answer, or a
 * gateway's output with the simulator's own.
 */
const WORDS = (
  'the gateway routes every request across providers and records spans with time to first token ' +
  'inter token latency usage cost retries fallbacks budgets burn rates alerts weights canary stream ' +
  'chunk model prompt answer token error cache key team route target slow fast healthy probe window'
).split(' ');

/** FNV-1a: a small, stable hash. */
export function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function textTokens(seedText: string, count: number, fixed: string | undefined): string[] {
  if (fixed !== undefined) {
    const words = fixed.split(' ');
    return words.map((w, i) => (i < words.length - 1 ? `${w} ` : w));
  }
  const h = hash(seedText);
  return Array.from({ length: count }, (_, i) => {
    const word = WORDS[(h + i * 7) % WORDS.length] ?? 'token';
    return i < count - 1 ? `${word} ` : word;
  });
}

/** Arguments from a JSON schema's properties: one plausible value per declared type. */
export function toolArguments(schema: unknown): string {
  const props = (schema as { properties?: unknown } | null | undefined)?.properties;
  const args: Record<string, unknown> = {};
  // A caller's schema is anything JSON can hold: a property that is not an object reads as a string.
  for (const [name, prop] of Object.entries(typeof props === 'object' && props !== null ? props : {})) {
    const type: unknown = typeof prop === 'object' && prop !== null ? (prop as { type?: unknown }).type : undefined;
    switch (type) {
      case 'number':
      case 'integer':
        args[name] = 1;
        break;
      case 'boolean':
        args[name] = true;
        break;
      case 'array':
        args[name] = [];
        break;
      case 'object':
        args[name] = {};
        break;
      default:
        args[name] = 'sim';
    }
  }
  return JSON.stringify(args);
}

/** Splits JSON text into at least two fragments, as providers stream tool arguments. */
export function fragments(text: string): string[] {
  if (text.length < 2) return [text, ''].filter((f) => f !== '' || text === '');
  const size = Math.max(1, Math.ceil(text.length / 3));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

/** Roughly 4 characters a token, the usual rule of thumb for English. */
export function countTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

/**
 * Words that carry no topic: dropped so "what is the capital of France?" and "capital of
 * france" embed alike. Question words (what, who, how…) stay, since they change what is
 * asked. The one-letter and two-letter tails are what an apostrophe leaves once the text
 * is split on non-letters: what's → what + s, don't → don + t, we'll → we + ll.
 */
const STOPWORDS = new Set(
  ('a an the and or but of to in on at by for from with about into over as is are was were be been being am ' +
    'do does did doing have has had having it its this that these those there here i me my we our you your ' +
    'he him his she her they them their please tell can could would should will shall may might must just so ' +
    's t d m ll re ve').split(' '),
);

/** How many dimensions each word lands on: more than one so a single hash collision moves a similarity by ¼, not all of it. */
const SLOTS_PER_WORD = 4;

/** Lowercased words with stopwords dropped and a trailing plural "s" taken off (capitals → capital; glass, bus stay). */
export function embeddingWords(input: string): string[] {
  const words: string[] = [];
  for (const raw of input.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (raw === '' || STOPWORDS.has(raw)) continue;
    const singular = raw.length > 3 && raw.endsWith('s') && !/(ss|us|is)$/.test(raw) ? raw.slice(0, -1) : raw;
    words.push(singular);
  }
  return words;
}

/**
 * Deterministic unit vector for one input: a hashed bag of words (feature hashing, each
 * word adds ±1 on SLOTS_PER_WORD dimensions), so texts that differ only in case, word
 * order, punctuation or stopwords come out (nearly) the same and unrelated texts nearly
 * orthogonal — enough meaning for a semantic cache to be tested against the simulator.
 * Unrelated texts are only reliably far apart with a few hundred dimensions; at the
 * default 16, collisions are common. A text with no words left gets one fixed vector.
 */
export function embedding(input: string, dims: number): number[] {
  const n = Math.max(0, Math.floor(dims));
  const v = new Array<number>(n).fill(0);
  if (n === 0) return v;
  for (const word of embeddingWords(input)) {
    for (let slot = 0; slot < SLOTS_PER_WORD; slot++) {
      const h = hash(`${word}#${slot}`);
      // Low bits pick the dimension, the top bit the sign: independent enough for FNV-1a.
      const i = h % n;
      v[i] = (v[i] ?? 0) + (h >>> 31 === 1 ? -1 : 1);
    }
  }
  let sq = 0;
  for (const x of v) sq += x * x;
  const norm = Math.sqrt(sq);
  // No words, or every slot cancelled out: the same unit vector for all such inputs.
  if (norm === 0) return v.fill(1 / Math.sqrt(n));
  return v.map((x) => x / norm);
}

export function toBase64(v: number[]): string {
  const buf = Buffer.alloc(v.length * 4);
  v.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}

export interface ToolSpec {
  name: string;
  schema: unknown;
}

export interface Answer {
  tokens: string[];
  tool: { id: string; name: string; args: string } | undefined;
  finish: 'stop' | 'length' | 'tool';
  inputTokens: number;
  outputTokens: number;
}

export interface AnswerInput {
  lastUserText: string;
  /** Text of a trailing assistant message: the answer continues from it (Anthropic prefill). */
  prefill: string;
  allText: string;
  tools: ToolSpec[];
  forcedTool: string | undefined;
  toolChoiceNone: boolean;
  maxTokens: number | undefined;
  mode: 'auto' | 'text' | 'tool';
  tokens: number;
  text: string | undefined;
  toolId: string;
}

export function answerFor(a: AnswerInput): Answer {
  const inputTokens = countTokens(a.allText);
  const wantsTool = a.tools.length > 0 && (a.mode === 'tool' || (a.mode === 'auto' && !a.toolChoiceNone));
  if (wantsTool) {
    const spec = a.tools.find((t) => t.name === a.forcedTool) ?? a.tools[0];
    if (spec !== undefined) {
      const args = toolArguments(spec.schema);
      return { tokens: [], tool: { id: a.toolId, name: spec.name, args }, finish: 'tool', inputTokens, outputTokens: fragments(args).length + 1 };
    }
  }
  let tokens = continueAfter(textTokens(a.lastUserText, a.tokens, a.text), a.prefill);
  let finish: Answer['finish'] = 'stop';
  if (a.maxTokens !== undefined && a.maxTokens < tokens.length) {
    tokens = tokens.slice(0, a.maxTokens);
    tokens[tokens.length - 1] = (tokens[tokens.length - 1] ?? '').trimEnd();
    finish = 'length';
  }
  return { tokens, tool: undefined, finish, inputTokens, outputTokens: tokens.length };
}

/**
 * The tokens left once a prefill is taken as already said: the same prompt gives the
 * same answer, so a prefill that is a prefix of it is completed exactly (whitespace the
 * prefill could not end with comes first); any other prefill is answered in full.
 */
export function continueAfter(tokens: string[], prefill: string): string[] {
  if (prefill === '') return tokens;
  let said = '';
  for (let i = 0; i <= tokens.length; i++) {
    if (said === prefill) return tokens.slice(i);
    if (said.trimEnd() === prefill) {
      const [first = '', ...rest] = tokens.slice(i);
      return [said.slice(prefill.length) + first, ...rest];
    }
    said += tokens[i] ?? '';
    if (!said.startsWith(prefill) && !prefill.startsWith(said.trimEnd())) return tokens;
  }
  return tokens;
}

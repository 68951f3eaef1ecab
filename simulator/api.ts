import type { Answer, AnswerInput } from './answer.js';

/** One piece of an SSE response; `token` frames are the ones TTFT, ITL and fault positions count. */
export interface Frame {
  text: string;
  token: boolean;
  /** The end marker (`[DONE]`, `message_stop`), left out by the no_done fault. */
  terminator?: boolean;
}

export type ErrorKind = 'rate_limit' | 'server_error' | 'overloaded' | 'context_length' | 'content_policy' | 'unauthorized' | 'bad_request' | 'not_found';

export interface ParsedRequest {
  model: string;
  /** Stored state the request refers to and the simulator does not have: a 400, after the model's own faults (a down server fails first). */
  unknownState?: string | undefined;
  stream: boolean;
  n: number;
  includeUsage: boolean;
  answer: Omit<AnswerInput, 'mode' | 'tokens' | 'text' | 'toolId'>;
}

export interface AnswerContext {
  seq: number;
  model: string;
  created: number;
  includeUsage: boolean;
  n: number;
}

/** What differs between the simulated APIs: request reading, bodies, frames, errors. */
export interface SimApi {
  id: 'openai-chat' | 'anthropic-messages' | 'openai-responses';
  read(body: unknown): ParsedRequest;
  toolId(seq: number): string;
  body(answer: Answer, ctx: AnswerContext): unknown;
  frames(answer: Answer, ctx: AnswerContext): Frame[];
  error(kind: ErrorKind, status: number, message: string): unknown;
  malformed: string;
}

export class BadRequest extends Error {}

/** Text of a message content that is a string or an array of `{type:'text', text}` parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p: unknown) => {
      const part = p as { type?: unknown; text?: unknown; content?: unknown };
      if (typeof part.text === 'string') return part.text;
      if (part.type === 'tool_result') return contentText(part.content);
      return '';
    })
    .join('');
}

export function sseData(data: unknown, event?: string): string {
  const json = typeof data === 'string' ? data : JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}

import type { FinishReason, StreamEvent, Usage } from '../formats/canonical.js';

/**
 * What Keel learns from one upstream stream: time to first token, every
 * inter-token gap, usage, finish. Times are milliseconds on one monotonic clock
 * (performance.now), relative to nothing in particular; only differences matter.
 */
export interface StreamStats {
  startedAt: number;
  firstTokenAt: number | undefined;
  lastTokenAt: number | undefined;
  /** Gaps between consecutive token-carrying chunks, in arrival order. */
  gaps: number[];
  tokenChunks: number;
  malformed: number;
  responseId: string | undefined;
  responseModel: string | undefined;
  usage: Usage | undefined;
  finishReason: FinishReason | undefined;
  /** The upstream sent its explicit end marker. */
  endSeen: boolean;
  /** Keel wrote the end marker because the upstream ended cleanly without one. */
  endSynthesized: boolean;
  upstreamError: string | undefined;
}

export function newStreamStats(startedAt: number): StreamStats {
  return {
    startedAt,
    firstTokenAt: undefined,
    lastTokenAt: undefined,
    gaps: [],
    tokenChunks: 0,
    malformed: 0,
    responseId: undefined,
    responseModel: undefined,
    usage: undefined,
    finishReason: undefined,
    endSeen: false,
    endSynthesized: false,
    upstreamError: undefined,
  };
}

function carriesToken(ev: StreamEvent): boolean {
  return (ev.type === 'text' && ev.text !== '') || ev.type === 'tool_call' || ev.type === 'tool_args';
}

/** Folds the events of one SSE event into the stats. Returns whether it carried a token. */
export function observe(stats: StreamStats, events: readonly StreamEvent[], at: number): boolean {
  let token = false;
  for (const ev of events) {
    switch (ev.type) {
      case 'start':
        stats.responseId ??= ev.id;
        stats.responseModel ??= ev.model;
        break;
      case 'usage':
        stats.usage = ev.usage;
        break;
      case 'finish':
        stats.finishReason ??= ev.reason;
        break;
      case 'error':
        stats.upstreamError = ev.message;
        break;
      case 'end':
        stats.endSeen = true;
        break;
      default:
        token ||= carriesToken(ev);
    }
  }
  if (token) {
    if (stats.firstTokenAt === undefined) stats.firstTokenAt = at;
    else if (stats.lastTokenAt !== undefined) stats.gaps.push(at - stats.lastTokenAt);
    stats.lastTokenAt = at;
    stats.tokenChunks++;
  }
  return token;
}

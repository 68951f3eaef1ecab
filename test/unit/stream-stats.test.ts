import { describe, expect, it } from 'vitest';
import { newStreamStats, observe } from '../../gateway/relay/stats.js';

describe('stream stats', () => {
  it('records TTFT at the first token-carrying event and every later gap', () => {
    const s = newStreamStats(100);
    expect(observe(s, [{ type: 'start', id: 'x', model: 'm', created: 0 }], 110)).toBe(false);
    expect(observe(s, [{ type: 'text', choice: 0, text: '' }], 115)).toBe(false); // role-only chunk
    expect(observe(s, [{ type: 'text', choice: 0, text: 'Hel' }], 150)).toBe(true);
    observe(s, [{ type: 'text', choice: 0, text: 'lo' }], 170);
    observe(s, [{ type: 'tool_args', choice: 0, index: 0, delta: '{}' }], 200);
    observe(s, [{ type: 'finish', choice: 0, reason: 'stop' }, { type: 'usage', usage: { inputTokens: 3, outputTokens: 3 } }], 210);
    observe(s, [{ type: 'end' }], 211);
    expect(s.firstTokenAt).toBe(150);
    expect(s.gaps).toEqual([20, 30]);
    expect(s.tokenChunks).toBe(3);
    expect(s.responseModel).toBe('m');
    expect(s.usage).toEqual({ inputTokens: 3, outputTokens: 3 });
    expect(s.finishReason).toBe('stop');
    expect(s.endSeen).toBe(true);
  });

  it('keeps the first finish reason and notes upstream errors', () => {
    const s = newStreamStats(0);
    observe(s, [{ type: 'finish', choice: 0, reason: 'length' }], 1);
    observe(s, [{ type: 'finish', choice: 1, reason: 'stop' }], 2);
    observe(s, [{ type: 'error', message: 'overloaded', errorType: 'overloaded_error' }], 3);
    expect(s.finishReason).toBe('length');
    expect(s.upstreamError).toBe('overloaded');
  });
});

import { describe, expect, it } from 'vitest';
import { formats } from '../../gateway/formats/index.js';
import { rejection } from '../helpers/formats.js';

/**
 * Failures the property tests found, kept as plain examples so they stay fixed whatever the
 * generators explore next time (each names the seed that first showed it).
 */

const withPart = (part: unknown) => ({ model: 'm', messages: [{ role: 'user', content: [part] }] });

describe('OpenAI content parts that failed their own schema (seeds -639665484, 1722784617)', () => {
  it.each([
    ['image_url: null (was a TypeError: a 500)', { type: 'image_url', image_url: null }],
    ['image_url: [ {url} ] (was an image without a url)', { type: 'image_url', image_url: [{ url: 'data:image/png;base64,iVBORw0KGgo=' }] }],
    ['image_url: 5', { type: 'image_url', image_url: 5 }],
    ['text: 5 (was silently dropped from the prompt)', { type: 'text', text: 5 }],
  ])('%s → 400 naming the part', (_name, part) => {
    const err = rejection(() => formats['openai-chat'].parseRequest(withPart(part)));
    expect(err.code).toBe('KEEL_INVALID_REQUEST');
    expect(err.status).toBe(400);
    expect(err.param?.startsWith('messages.0.content.0')).toBe(true);
  });

  it('parts Keel does not model still pass (and are dropped from the canonical form only)', () => {
    const req = formats['openai-chat'].parseRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'x', format: 'wav' } }, { type: 'text', text: 'hi' }] }] });
    expect(req.messages[0]?.content).toEqual([{ type: 'text', text: 'hi' }]);
  });
});

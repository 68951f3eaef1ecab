import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertingSchema, sloSpecSchema } from '../../config/slo-schema.js';
import { buildSloServer, SloLoop } from '../../slo/index.js';
import { insertRows, migrate, openStore, type Store } from '../../store/index.js';
import { launchChromium } from '../helpers/browser.js';

/** The status page in real headless Chromium, rendering live evaluations of seeded data. */
const MIN = 60_000;
const now0 = Math.floor(Date.now() / MIN) * MIN;

describe('status page', () => {
  let store: Store;
  let browser: Browser;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    store = openStore({ path: mkdtempSync(join(tmpdir(), 'keel-page-')), database: 'default' });
    await migrate(store.client, { traces: 0, metrics: 0, requests: 0, sli: 0 });
    const rows: Record<string, unknown>[] = [];
    for (let m = -240; m < 0; m++) {
      for (let k = 0; k < 10; k++) {
        const bad = m >= -10 && k < 4;
        rows.push({ Timestamp: String((now0 + m * MIN + 30_000) / 1000), route: 'chat', provider: 'p', response_model: 'm', ok: !bad, error_class: bad ? 'provider_error' : '', duration_ms: 400, request_id: `r${rows.length}` });
        rows.push({ Timestamp: String((now0 + m * MIN + 30_000) / 1000), route: 'embed', provider: 'p', response_model: 'e', ok: true, error_class: '', duration_ms: 50, request_id: `e${rows.length}` });
      }
    }
    await insertRows(store.client, 'llm_requests', rows);
    // Active health checks: a fallback that died (its last probe failed) and one that is fine; inconclusive probes do not count in the ratio.
    const probe = (msAgo: number, model: string, outcome: string, error_class = '') => ({ ts: String((Date.now() - msAgo) / 1000), provider: 'p', provider_name: 'p', model, method: 'chat', outcome, error_class, duration_ms: 12 });
    await insertRows(store.client, 'probe_results', [probe(180_000, 'fb', 'ok'), probe(120_000, 'fb', 'failed', 'provider_error'), probe(60_000, 'fb', 'failed', 'provider_error'), probe(60_000, 'idle', 'inconclusive', 'caller_rejected'), probe(30_000, 'idle', 'ok'), probe(2 * 3_600_000, 'gone', 'ok')]);
    const loop = new SloLoop({
      client: store.client,
      specs: () => ['chat', 'embed'].map((route) => sloSpecSchema.parse({ name: `${route}-availability`, objective: 99, window: '1d', sli: 'availability', scope: { route } })),
      alerting: () => alertingSchema.parse({ pending_s: 0 }),
      intervalMs: 30_000,
      // The last seeded minute is the one in progress.
      now: () => now0 - 1,
      generatorURL: 'http://127.0.0.1/',
      log: () => undefined,
    });
    await loop.tick();
    const app = buildSloServer(loop, store.client, () => ({ version: 'w42', multipliers: { 'chat|p|m': 0.05 }, canaries: { 'chat|p|new': 25 } }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/`;
    close = () => app.close();
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser.close();
    await close();
    await store.close();
  });

  it('shows budgets, burn rates and the firing alert from live data; the screenshot shows them', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    await page.goto(url);
    await page.waitForSelector('#slos tbody tr');
    // Browser-side code as text: this project's TypeScript has no DOM types.
    const rows = await page.evaluate<string[][]>(`Array.from(document.querySelectorAll('#slos tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent))`);
    const chat = rows.find((r) => r[0] === 'chat-availability');
    const embed = rows.find((r) => r[0] === 'embed-availability');
    // chat: 2400 events, 40 bad; budget 1 % → 24 allowed → 40/24 consumed → −66.7 % left.
    expect(chat?.[3]).toBe('2400');
    expect(chat?.[4]).toMatch(/-66\.7%/);
    expect(embed?.[4]).toMatch(/100\.0%/);
    const weights = await page.evaluate<string[][]>(`Array.from(document.querySelectorAll('#weights tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent))`);
    expect(weights).toEqual([['chat|p|m', '0.05', '—'], ['chat|p|new', '1', '25%']]);
    expect(await page.textContent('#wversion')).toBe('version w42');
    const probes = await page.evaluate<string[][]>(`Array.from(document.querySelectorAll('#probes tbody tr')).map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent))`);
    // The last probe per target within the hour (an older target is gone), success over conclusive probes.
    expect(probes.map((r) => [r[0], r[1], r[2], r[4], r[5]])).toEqual([['p', 'fb', 'failed (provider_error)', '3', '33.3%'], ['p', 'idle', 'ok', '2', '100.0%']]);
    const alerts = await page.textContent('#alerts');
    expect(alerts).toMatch(/chat-availability — page/);
    expect(alerts).not.toMatch(/embed-availability/);
    const shot = await page.screenshot({ fullPage: true });
    writeFileSync(join(tmpdir(), 'keel-status-page.png'), shot);
    // A real rendering: a PNG of the viewport's width, and the alert box drawn in its red tint.
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    expect(shot.readUInt32BE(16)).toBe(1200);
    // Most of the alert box is its background tint (#fdecea); none of the page's healthy rows are.
    const box = await page.locator('.alert').first().screenshot();
    expect(await countColour(browser, box, [0xfd, 0xec, 0xea])).toBeGreaterThan(1000);
    expect(await countColour(browser, shot, [0xfd, 0xec, 0xea])).toBeGreaterThan(1000);
  });
});

/** How many pixels of a PNG have exactly this colour, counted by the browser itself (no image library). */
async function countColour(browser: Browser, png: Buffer, rgb: [number, number, number]): Promise<number> {
  const page = await browser.newPage();
  try {
    // Browser-side code as text: this project's TypeScript has no DOM types.
    const count = `async ({ b64, rgb }) => {
      const img = await createImageBitmap(await (await fetch('data:image/png;base64,' + b64)).blob());
      const ctx = new OffscreenCanvas(img.width, img.height).getContext('2d');
      ctx.drawImage(img, 0, 0);
      const px = ctx.getImageData(0, 0, img.width, img.height).data;
      let n = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i] === rgb[0] && px[i + 1] === rgb[1] && px[i + 2] === rgb[2]) n++;
      return n;
    }`;
    const run = ({ src, arg }: { src: string; arg: unknown }): unknown => (globalThis.eval(src) as (a: unknown) => unknown)(arg);
    return Number(await page.evaluate(run, { src: count, arg: { b64: png.toString('base64'), rgb } }));
  } finally {
    await page.close();
  }
}

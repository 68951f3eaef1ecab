import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core (never a browser download; shared/reference/test-infra.md).
 * Playwright gives each launch a fresh, empty profile of its own.
 */
const EXECUTABLE = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(EXECUTABLE)) {
    throw new Error('Chromium is not installed: install the Debian package chromium (.ci/run does this when it is missing).');
  }
  return chromium.launch({
    executablePath: EXECUTABLE,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
    ],
  });
}

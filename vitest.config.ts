import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Forked workers: chDB binds one data folder per process (DESIGN.md §3).
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    pool: 'forks',
    globalSetup: ['test/global-setup.ts'],
    // The executor checks every op's outputs against the memory contract (no views into inputs).
    env: { RNNX_CHECK_ALIASING: '1' },
  },
});

import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Model and HTTP suites run ffmpeg and ONNX Runtime; on 2 cores, files in parallel only thrash.
    fileParallelism: false,
    pool: 'forks',
  },
});

/**
 * The image builds what it runs: scripts/check-image.sh reads the Dockerfile and runs its build
 * stage's COPY/RUN lines and its runtime stage's copies outside Docker (no Docker engine here),
 * starts ENTRYPOINT + CMD as the image's uid and checks readiness, the healthcheck, the page and the
 * state folder, then runs docker-compose.yml's api and worker commands against a local Redis.
 * node_modules comes from this checkout (less better-sqlite3's build, which the Dockerfile's own
 * rebuild must make again), so nothing is downloaded.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('the Dockerfile and docker-compose.yml, run outside Docker', () => {
  it('build what they run: ready, healthy, page served, state owned by the image user, a job through the compose api and worker', () => {
    const run = spawnSync('bash', [join(root, 'scripts', 'check-image.sh')], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NODE_MODULES_FROM: join(root, 'node_modules') },
      timeout: 600_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    expect(output).toContain('GET /readyz: 200');
    expect(output).toContain('HEALTHCHECK command');
    // as root the service runs as the image's uid (setpriv); otherwise as the caller
    if (process.getuid?.() === 0) expect(output).toContain('bundled models: not writable by uid 1000');
    expect(output).toContain('compose: a job queued through api1 ran on the worker');
  }, 660_000);
});

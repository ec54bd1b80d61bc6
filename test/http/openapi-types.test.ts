/**
 * src/http/generated/openapi.ts must be what openapi-typescript makes of openapi/openapi.yaml
 * today; a spec change without `npm run gen:api` fails here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

it('generated API types are up to date with openapi/openapi.yaml', () => {
  const dir = mkdtempSync(join(tmpdir(), 'videomae-types-'));
  try {
    const fresh = join(dir, 'openapi.ts');
    execFileSync(join(root, 'node_modules', '.bin', 'openapi-typescript'), [join(root, 'openapi', 'openapi.yaml'), '-o', fresh], {
      stdio: 'pipe',
    });
    const committed = readFileSync(join(root, 'src', 'http', 'generated', 'openapi.ts'), 'utf8');
    expect(committed, 'run `npm run gen:api` and commit the result').toBe(readFileSync(fresh, 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

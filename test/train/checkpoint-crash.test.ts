/**
 * A crash while a checkpoint is being written (the process killed mid-write) leaves the last
 * good checkpoint readable and unchanged.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint } from '../../src/train/checkpoint.js';

const dir = mkdtempSync(join(tmpdir(), 'videomae-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const root = join(import.meta.dirname, '..', '..');
const writer = `
import { writeCheckpoint } from ${JSON.stringify(join(root, 'src', 'train', 'checkpoint.ts'))};
const big = new Float32Array(64 * 2 ** 20).fill(7);
process.stdout.write('writing\\n');
for (;;) writeCheckpoint(process.env.CHECKPOINT_FILE, new Map([['w', { shape: [big.length], data: big }]]), new Map(), { recipe: 'r', stageIndex: 0, stageHash: 'x', step: 99, optimizerSteps: 99 });
`;

describe('checkpoint writes', () => {
  it('survive a crash mid-write', async () => {
    const file = join(dir, 'checkpoint.safetensors');
    const small = new Float32Array([1, 2, 3]);
    writeCheckpoint(
      file,
      new Map([['w', { shape: [3], data: small }]]),
      new Map([['w', { m: new Float32Array(3), v: new Float32Array(3), shape: [3] }]]),
      { recipe: 'r', stageIndex: 0, stageHash: 'x', step: 5, optimizerSteps: 5 },
    );
    // tsx as an in-process loader (not its CLI, which runs the script in a grandchild that a kill would miss).
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, CHECKPOINT_FILE: file },
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    // Kill it while the 256 MB temporary file is growing.
    const temp = () => readdirSync(dir).find((n) => n.includes('.tmp-'));
    const deadline = Date.now() + 20_000;
    while (!(temp() && statSync(join(dir, temp()!)).size > 1024) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(temp(), 'the writer never started a temporary file').toBeDefined();
    const loaded = readCheckpoint(file);
    // Either the old checkpoint, or (had the rename landed first) a complete new one: never torn.
    if (loaded.state.step === 5) expect(Array.from(loaded.params.get('w')!.data)).toEqual([1, 2, 3]);
    else expect(loaded.params.get('w')!.data.length).toBe(64 * 2 ** 20);
    expect(existsSync(file)).toBe(true);
  }, 60_000);
});

/**
 * One import in its own process, so its peak resident memory is its own: prints
 * {seconds, maxRssMiB} as JSON. `baseline` as the checkpoint argument only loads the modules.
 */
import { exportModelFolder } from '../src/kinds/index.js';
import { importCheckpoint } from '../src/weights/import-checkpoint.js';

const [checkpoint, out, arch, ...flags] = process.argv.slice(2);
const started = performance.now();
if (checkpoint !== 'baseline') {
  await importCheckpoint({
    checkpoint: checkpoint!,
    out: out!,
    arch: arch!,
    force: true,
    fp16: flags.includes('--fp16'),
    finish: async (dir) => {
      await exportModelFolder(dir);
    },
  });
}
console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));

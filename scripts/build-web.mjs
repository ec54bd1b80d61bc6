// Bundles the results page (web/) into dist/web/: web/src/main.ts -> app.js (esbuild, one ES
// module, no CDN, nothing fetched at run time), web/app.css and web/index.html copied beside it.
// `npm run build:web`; `npm run build` runs it, and the browser tests call buildWeb() first.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const WEB_OUT = join(root, 'dist', 'web');

/** Builds the page into `outDir` (default dist/web/); resolves with the files written. */
export async function buildWeb(outDir = WEB_OUT) {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, 'web', 'src', 'main.ts')],
    outfile: join(outDir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'web', 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(root, 'web', 'app.css'), join(outDir, 'app.css'));
  return ['index.html', 'app.js', 'app.css'].map((f) => join(outDir, f));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await buildWeb();
  process.stdout.write(`build:web: ${files.join(', ')}\n`);
}

/**
 * The shape of src/: no import cycles, and no module imports a layer above its own. Imports are
 * read with the TypeScript scanner (ts.preProcessFile: import, import type, export ... from and
 * import('literal')); type-only imports count, they are dependencies too.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The layers of src/, lowest first. A module may import its own area (its top-level folder, or a
 * top-level file such as errors.ts) and any area of a lower layer; areas of one layer are peers
 * and do not import each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors', 'http/generated'], // http/generated: the wire types made from openapi/openapi.yaml (types only, no code)
  ['config', 'process'], // process: how child processes start (ffmpeg's spawn); config: manifests, architectures, labels
  ['video', 'postprocess'], // ffmpeg/ffprobe and decoding; pure post-processing kernels (Soft-NMS, boxes, segment decoding)
  ['weights', 'eval', 'tfjs'], // weights use video/sampling (protocol names) and postprocess (ActionFormer defaults); eval uses Soft-NMS/boxes
  ['onnx'], // graph builders and export, from weights
  ['runtime'], // ONNX Runtime sessions and the model registry (exports a missing model.onnx through onnx/)
  ['detector', 'datasets', 'hub'], // person detectors run on runtime/ or TF.js; datasets read files; hub downloads into weights/ imports
  ['tasks'],
  ['render'], // annotated videos: pure drawing on RGB frames, a task's result as marks, decode -> draw -> encode through video/
  ['train'],
  ['kinds'], // the model-kind table: wires each kind's graph, loader, pipeline, trainer and import together
  ['batch'], // the batch task table (one video -> its result and features) and the output folder of `videomae batch`
  ['http'],
  ['cli'],
];

/** Import edges allowed to close a cycle (none; the test fails on an entry that no longer exists). */
const CYCLE_ALLOW: readonly string[] = [];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/**
 * Packages that only some areas may import: one place touches each runtime (onnxruntime in
 * runtime/, ffmpeg in video/, TF.js in train/, tfjs/ and the CenterNet worker thread).
 */
const PACKAGE_ROOMS: Readonly<Record<string, readonly string[]>> = {
  'onnxruntime-node': ['runtime/'],
  'fluent-ffmpeg': ['video/'],
  '@tensorflow/': ['train/', 'tfjs/', 'detector/centernet-worker.ts'],
};

/** Module (path relative to src/) -> the packages it imports. */
const packageImports = new Map<string, string[]>();

/** Module (path relative to src/) -> the src modules it imports, in source order. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const deps: string[] = [];
    packageImports.set(
      relative(SRC, file),
      importedFiles.map((f) => f.fileName).filter((name) => !name.startsWith('.')),
    );
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue; // packages and node: built-ins
      const target = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'));
      const module = relative(SRC, target);
      if (!existsSync(target)) throw new Error(`${relative(SRC, file)} imports '${fileName}', which is no file under src/`);
      if (!deps.includes(module)) deps.push(module);
    }
    graph.set(relative(SRC, file), deps);
  }
  return graph;
}

/** The area of a module: its top-level folder under src/, or the name of a top-level file. */
function areaOf(module: string): string {
  if (module.startsWith('http/generated/')) return 'http/generated';
  const [first] = module.split('/');
  return module.includes('/') ? first! : first!.replace(/\.ts$/, '');
}

function layerOf(area: string): number {
  return LAYERS.findIndex((layer) => layer.includes(area));
}

/** Strongly connected components of more than one module (or a module importing itself), Tarjan. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)!.includes(v)) found.push(component);
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One concrete cycle inside a component, as a path a -> b -> ... -> a (breadth first, so a shortest one). */
function cyclePath(graph: Map<string, string[]>, component: readonly string[]): string {
  const members = new Set(component);
  const start = [...component].sort()[0]!;
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path: string[] = [];
        for (let u = v; u !== start; u = previous.get(u)!) path.unshift(u);
        return [start, ...path, start].join(' -> ');
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return component.join(', ');
}

describe('src/ imports', () => {
  const graph = importGraph();

  it('form no cycle', () => {
    const allowed = new Set(CYCLE_ALLOW);
    const pruned = new Map([...graph].map(([module, deps]) => [module, deps.filter((d) => !allowed.has(`${module} -> ${d}`))]));
    expect(cycles(pruned).map((c) => cyclePath(pruned, c))).toEqual([]);
  });

  it('allow no cycle edge that no longer exists', () => {
    const edges = new Set([...graph].flatMap(([module, deps]) => deps.map((d) => `${module} -> ${d}`)));
    expect(CYCLE_ALLOW.filter((edge) => !edges.has(edge))).toEqual([]);
  });

  it('put every area of src/ in the layer table', () => {
    const areas = new Set([...graph.keys()].map(areaOf));
    expect([...areas].filter((area) => layerOf(area) < 0).sort()).toEqual([]);
  });

  it('never reach up a layer, nor across to a peer of the same layer', () => {
    const violations: string[] = [];
    for (const [module, deps] of graph) {
      const from = areaOf(module);
      for (const dep of deps) {
        const to = areaOf(dep);
        if (to === from || layerOf(to) < 0 || layerOf(from) < 0) continue;
        if (layerOf(to) >= layerOf(from))
          violations.push(`${module} (layer ${layerOf(from)}, ${from}) imports ${dep} (layer ${layerOf(to)}, ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('keep onnxruntime, ffmpeg and TF.js in their rooms', () => {
    const violations: string[] = [];
    for (const [module, packages] of packageImports) {
      for (const name of packages) {
        for (const [pkg, rooms] of Object.entries(PACKAGE_ROOMS)) {
          if ((name === pkg || name.startsWith(pkg)) && !rooms.some((room) => module.startsWith(room)))
            violations.push(`${module} imports ${name}`);
        }
      }
    }
    expect(violations).toEqual([]);
  });
});

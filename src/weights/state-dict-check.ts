/**
 * Checks a state dict against the architecture before anything is built or written, and reports
 * missing, unexpected and mis-shaped keys by name.
 */
import type { VitArchitecture } from '../config/architectures.js';
import { ServiceError } from '../errors.js';
import { modelParameters, shapesEqual, type ParameterSpec } from './parameters.js';
import type { TensorMap } from './safetensors.js';

export interface StateDictReport {
  readonly missing: string[];
  readonly unexpected: string[];
  readonly mismatched: Array<{ name: string; expected: readonly number[]; actual: readonly number[] }>;
}

export function compareStateDict(config: VitArchitecture, tensors: TensorMap): StateDictReport {
  return compareSpecs(modelParameters(config), tensors);
}

/** Any parameter list against a tensor map. */
export function compareSpecs(
  specs: readonly ParameterSpec[],
  tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>,
): StateDictReport {
  const expectedNames = new Set(specs.map((s) => s.name));
  const missing: string[] = [];
  const mismatched: StateDictReport['mismatched'] = [];
  for (const spec of specs) {
    const tensor = tensors.get(spec.name);
    if (!tensor) missing.push(spec.name);
    else if (!shapesEqual(tensor.shape, spec.shape)) mismatched.push({ name: spec.name, expected: spec.shape, actual: tensor.shape });
  }
  const unexpected = [...tensors.keys()].filter((name) => !expectedNames.has(name));
  return { missing, unexpected, mismatched };
}

export class StateDictMismatchError extends ServiceError {
  constructor(
    readonly report: StateDictReport,
    source: string,
  ) {
    super(422, 'state_dict_mismatch', `${source} does not match the architecture: ${describeReport(report)}`);
  }
}

export function describeReport(report: StateDictReport, limit = 8): string {
  const list = (names: string[]): string =>
    names.slice(0, limit).join(', ') + (names.length > limit ? ` and ${names.length - limit} more` : '');
  const parts: string[] = [];
  if (report.missing.length) parts.push(`missing keys: ${list(report.missing)}`);
  if (report.unexpected.length) parts.push(`unexpected keys: ${list(report.unexpected)}`);
  if (report.mismatched.length) {
    parts.push(`wrong shapes: ${list(report.mismatched.map((m) => `${m.name} [${m.actual.join(',')}] != [${m.expected.join(',')}]`))}`);
  }
  return parts.join('; ');
}

/** Throws unless the state dict holds exactly the architecture's parameters. */
export function assertStateDict(config: VitArchitecture, tensors: TensorMap, source: string): void {
  const report = compareStateDict(config, tensors);
  if (report.missing.length || report.unexpected.length || report.mismatched.length) {
    throw new StateDictMismatchError(report, source);
  }
}

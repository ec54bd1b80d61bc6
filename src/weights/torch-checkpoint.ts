/**
 * Reads PyTorch checkpoints written by torch.save (>= 1.6, the zip format): `<archive>/data.pkl`
 * is unpickled with an allowlist of the few globals torch uses for tensors and state dicts, and
 * each tensor becomes a reference (storage, offset, shape, strides) whose bytes are read from the
 * zip only when asked, so multi-GB checkpoints stream.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { CheckpointError } from './checkpoint-error.js';
import { bfloat16BytesToFloat32, float16BytesToFloat32 } from './half.js';
import { describe, PickleError, unpickle, type PickleCallable, type PickleClass, type PickleHooks, type PyDict } from './pickle.js';
import { ZipArchive, type ZipEntry } from './zip-reader.js';

export type TorchDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: 'float32', HalfStorage: 'float16', BFloat16Storage: 'bfloat16', DoubleStorage: 'float64',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
};

const ITEM_SIZE: Readonly<Record<TorchDtype, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export const FLOAT_DTYPES: ReadonlySet<TorchDtype> = new Set(['float32', 'float16', 'bfloat16', 'float64']);

export interface TorchStorage {
  readonly key: string;
  readonly dtype: TorchDtype;
  readonly numel: number;
}

/** A tensor in the checkpoint, not yet read. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}

  get dtype(): TorchDtype {
    return this.storage.dtype;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** One past the last storage element this tensor touches (offset when empty). */
  get extent(): number {
    if (this.numel === 0) return this.offset;
    return this.offset + this.shape.reduce((sum, size, i) => sum + (size - 1) * this.stride[i]!, 0) + 1;
  }

  get isContiguous(): boolean {
    let expected = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      if (this.shape[i] !== 1 && this.stride[i] !== expected) return false;
      expected *= this.shape[i]!;
    }
    return true;
  }
}

/** argparse.Namespace and friends: kept as their attribute dict, never as live objects. */
class InertObject {
  readonly attributes: PyDict = new Map();
  constructor(readonly qualifiedName: string) {}
  setState(state: unknown): void {
    if (state instanceof Map) for (const [k, v] of state) this.attributes.set(k, v);
  }
}

const LEGACY_MAGIC = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

export class TorchCheckpoint {
  private constructor(
    readonly file: string,
    private readonly zip: ZipArchive,
    private readonly prefix: string,
    /** The unpickled object: Maps for dicts, frozen arrays for tuples, TorchTensor for tensors. */
    readonly root: unknown,
  ) {}

  static open(file: string): TorchCheckpoint {
    refuseLegacyFormat(file);
    const zip = ZipArchive.open(file);
    try {
      const pickles = [...zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
      if (pickles.length !== 1) {
        throw new CheckpointError('invalid_checkpoint', file, `is a zip but not a torch.save archive (${pickles.length} '<name>/data.pkl' entries)`);
      }
      const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
      const byteorder = zip.entries.get(`${prefix}byteorder`);
      if (byteorder && zip.readAll(byteorder).toString('ascii').trim() !== 'little') {
        throw new CheckpointError('unsupported_checkpoint', file, 'was saved on a big-endian machine');
      }
      const pickle = zip.entries.get(pickles[0]!)!;
      if (pickle.size > 512 * 2 ** 20) throw new CheckpointError('invalid_checkpoint', file, `has a ${pickle.size}-byte data.pkl`);
      const root = unpickleTorch(file, zip, prefix, zip.readAll(pickle));
      return new TorchCheckpoint(file, zip, prefix, root);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  close(): void {
    this.zip.close();
  }

  /** The tensor's values as a new contiguous float32 array (strides and offset applied). */
  readFloat32(tensor: TorchTensor, name: string): Float32Array {
    if (!FLOAT_DTYPES.has(tensor.dtype)) {
      throw new CheckpointError('unsupported_checkpoint', this.file, `stores '${name}' as ${tensor.dtype}; weights must be float32, float16, bfloat16 or float64`);
    }
    const entry = this.storageEntry(tensor.storage);
    const itemSize = ITEM_SIZE[tensor.dtype];
    const count = tensor.numel;
    if (count === 0) return new Float32Array(0);
    const first = tensor.offset;
    const span = tensor.extent - first;
    const values = decode(this.zip.read(entry, first * itemSize, span * itemSize), tensor.dtype, span);
    if (tensor.isContiguous) return values;
    const out = new Float32Array(count);
    gather(values, tensor.shape, tensor.stride, out);
    return out;
  }

  private storageEntry(storage: TorchStorage): ZipEntry {
    const entry = this.zip.entries.get(`${this.prefix}data/${storage.key}`);
    if (!entry) throw new CheckpointError('invalid_checkpoint', this.file, `has no data for storage '${storage.key}'`);
    const needed = storage.numel * ITEM_SIZE[storage.dtype];
    if (entry.size < needed) {
      throw new CheckpointError('invalid_checkpoint', this.file,
        `has storage '${storage.key}' of ${entry.size} bytes, but it declares ${storage.numel} ${storage.dtype} elements (${needed} bytes)`);
    }
    return entry;
  }
}

function refuseLegacyFormat(file: string): void {
  const fd = openSync(file, 'r');
  const head = Buffer.alloc(LEGACY_MAGIC.length);
  let n: number;
  try {
    n = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (n === 0) throw new CheckpointError('invalid_checkpoint', file, 'is empty');
  if (n === head.length && head.equals(LEGACY_MAGIC)) {
    throw new CheckpointError('unsupported_checkpoint', file,
      'uses the legacy (pre-1.6) torch.save format; load it in PyTorch and save it again with torch.save(obj, path), which writes the zip format');
  }
}

function unpickleTorch(file: string, zip: ZipArchive, prefix: string, bytes: Buffer): unknown {
  const storages = new Map<string, TorchStorage>();
  const orderedDicts = new WeakSet<PyDict>();
  const hooks: PickleHooks = {
    global: (module, name) => allowedGlobal(file, module, name, orderedDicts),
    // torch.save(model.state_dict()) sets the OrderedDict's `_metadata` (per-module versions) with
    // BUILD: that is the only state a dict may carry, and it is dropped (we never load into modules).
    buildDict: (target, state) => {
      if (!orderedDicts.has(target)) throw new CheckpointError('unsafe_checkpoint', file, 'has a pickle that sets the state of a plain dict');
      const names = state instanceof Map ? [...state.keys()] : undefined;
      if (!names || names.some((k) => k !== '_metadata')) {
        throw new CheckpointError('invalid_checkpoint', file, `sets OrderedDict attributes other than _metadata (${names ? names.map(String).join(', ') : describe(state)})`);
      }
    },
    persistentLoad: (pid) => {
      // ('storage', <storage type>, key, location, numel)
      if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
        throw new CheckpointError('invalid_checkpoint', file, `has a persistent id that is not a storage (${describe(pid)})`);
      }
      const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
      if (!(type instanceof StorageType) || typeof key !== 'string' || !Number.isInteger(numel) || (numel as number) < 0) {
        throw new CheckpointError('invalid_checkpoint', file, 'has a malformed storage reference');
      }
      const existing = storages.get(key);
      if (existing) return existing;
      if (!zip.entries.has(`${prefix}data/${key}`)) throw new CheckpointError('invalid_checkpoint', file, `references storage '${key}', which the archive lacks`);
      const storage: TorchStorage = { key, dtype: type.dtype, numel: numel as number };
      storages.set(key, storage);
      return storage;
    },
  };
  try {
    return unpickle(bytes, hooks);
  } catch (error) {
    if (error instanceof PickleError) {
      throw new CheckpointError(error.unsafe ? 'unsafe_checkpoint' : 'invalid_checkpoint', file, `has an unreadable data.pkl: ${error.message}`);
    }
    throw error;
  }
}

class StorageType {
  constructor(readonly dtype: TorchDtype) {}
}

function callable(qualifiedName: string, call: (args: readonly unknown[]) => unknown): PickleCallable {
  return { kind: 'callable', qualifiedName, call };
}

const ALLOWED = [
  'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state', 'collections.OrderedDict', 'torch.Size', 'argparse.Namespace',
  'builtins.set', 'builtins.frozenset',
  ...Object.keys(STORAGE_TYPES).map((type) => `torch.${type}`),
];

function allowedGlobal(file: string, module: string, name: string, orderedDicts: WeakSet<PyDict>): unknown {
  const qualified = `${module}.${name}`;
  const bad = (reason: string): never => { throw new CheckpointError('invalid_checkpoint', file, `calls ${qualified} with ${reason}`); };
  switch (qualified) {
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor':
      return callable(qualified, (args) => {
        const [storage, offset, shape, stride] = args as [unknown, unknown, unknown, unknown];
        if (!storage || typeof storage !== 'object' || !('key' in storage)) bad('something that is not a storage');
        if (!isIntList(shape) || !isIntList(stride) || shape.length !== stride.length || !Number.isInteger(offset) || (offset as number) < 0) {
          bad('a malformed shape, stride or offset');
        }
        const tensor = new TorchTensor(storage as TorchStorage, offset as number, shape as number[], stride as number[]);
        if (tensor.extent > (storage as TorchStorage).numel) {
          throw new CheckpointError('invalid_checkpoint', file,
            `has a tensor of shape [${tensor.shape.join(', ')}] that reaches element ${tensor.extent} of a storage of ${(storage as TorchStorage).numel}`);
        }
        return tensor;
      });
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return callable(qualified, (args) => {
        if (!(args[0] instanceof TorchTensor)) bad('something that is not a tensor');
        return args[0];
      });
    case 'collections.OrderedDict':
      return callable(qualified, (args) => {
        const dict: PyDict = new Map();
        const items = args[0];
        if (Array.isArray(items)) for (const pair of items) if (Array.isArray(pair) && pair.length === 2) dict.set(pair[0], pair[1]);
        orderedDicts.add(dict);
        return dict;
      });
    case 'builtins.set': case '__builtin__.set': case 'builtins.frozenset': case '__builtin__.frozenset':
      // DeepSpeed model states hold sets of names; protocol 2 pickles them through these.
      return callable(qualified, (args) => new Set(Array.isArray(args[0]) ? args[0] : []));
    case 'torch.Size':
      return callable(qualified, (args) => (Array.isArray(args[0]) ? Object.freeze([...args[0]]) : bad('a non-tuple')));
    case 'argparse.Namespace': {
      const cls: PickleClass = { kind: 'class', qualifiedName: qualified, construct: () => new InertObject(qualified) };
      return cls;
    }
  }
  if (module === 'torch' && name in STORAGE_TYPES) return new StorageType(STORAGE_TYPES[name]!);
  throw new CheckpointError('unsafe_checkpoint', file,
    `names the Python global '${qualified}', which a state dict never needs; only ${ALLOWED.join(', ')} are allowed (nothing in a checkpoint is ever run)`);
}

function isIntList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0);
}

function decode(bytes: Buffer, dtype: TorchDtype, count: number): Float32Array {
  switch (dtype) {
    case 'float16': return float16BytesToFloat32(bytes, count);
    case 'bfloat16': return bfloat16BytesToFloat32(bytes, count);
    case 'float64': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = bytes.readDoubleLE(8 * i);
      return out;
    }
    default: {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * count));
      return out;
    }
  }
}

/** Copies a strided view (relative to its first element) into a contiguous array. */
function gather(source: Float32Array, shape: readonly number[], stride: readonly number[], out: Float32Array): void {
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let position = 0;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[position]!;
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]!++;
      position += stride[axis]!;
      if (index[axis]! < shape[axis]!) break;
      position -= stride[axis]! * shape[axis]!;
      index[axis] = 0;
    }
  }
}

/**
 * Reads PyTorch checkpoints written by torch.save: the zip format (>= 1.6, `<archive>/data.pkl`)
 * and the legacy one (a row of pickles, then each storage's bytes). The pickle is read with an
 * allowlist of the few globals torch uses for tensors and state dicts, plus the inert records a
 * training script saves beside them (argparse.Namespace, numpy scalars and dtypes); each tensor
 * becomes a reference (storage, offset, shape, strides) whose bytes are read from the file only
 * when asked, so multi-GB checkpoints stream.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { CheckpointError } from './checkpoint-error.js';
import { bfloat16BytesToFloat32, float16BytesToFloat32 } from './half.js';
import { describe, PickleError, unpickleAt, type PickleCallable, type PickleClass, type PickleHooks, type PyDict } from './pickle.js';
import { ZipArchive, type ZipEntry } from './zip-reader.js';

export type TorchDtype = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const ITEM_SIZE: Readonly<Record<TorchDtype, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
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

/** argparse.Namespace: kept as its attribute dict, never as a live object. */
export class InertObject {
  readonly attributes: PyDict = new Map();
  constructor(readonly qualifiedName: string) {}
  setState(state: unknown): void {
    if (!(state instanceof Map))
      throw new PickleError(`pickle sets the state of ${this.qualifiedName} to a ${describe(state)}, not a dict`);
    for (const [k, v] of state) this.attributes.set(k, v);
  }
}

/** numpy.dtype('f8', False, True) plus its BUILD state: a record of what the type was, nothing more. */
export class NumpyDtype {
  readonly qualifiedName = 'numpy.dtype';
  /** '<', '>' or '|' (byte order does not apply), from the BUILD state. */
  byteorder = '=';
  constructor(readonly descr: string) {}
  setState(state: unknown): void {
    // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
    if (!Array.isArray(state) || typeof state[1] !== 'string')
      throw new PickleError(`pickle sets the state of numpy.dtype('${this.descr}') to a ${describe(state)}`);
    this.byteorder = state[1];
  }
}

/** magic number (a LONG1 of 10 bytes) + STOP: the first pickle of a legacy torch.save file. */
const LEGACY_MAGIC = Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
const LEGACY_PROTOCOL_VERSION = 1001;
/** The pickles of a checkpoint (not its tensor bytes) are small; a larger one is refused. */
const MAX_PICKLE_BYTES = 512 * 2 ** 20;

/** Where a checkpoint's storages are: entries of the zip, or byte ranges of a legacy file. */
interface StorageBytes {
  read(storage: TorchStorage, start: number, length: number): Buffer;
  close(): void;
}

export class TorchCheckpoint {
  private constructor(
    readonly file: string,
    private readonly bytes: StorageBytes,
    /** 'zip' (torch >= 1.6) or 'legacy' (_use_new_zipfile_serialization=False, and torch < 1.6). */
    readonly format: 'zip' | 'legacy',
    /** The unpickled object: Maps for dicts, frozen arrays for tuples, TorchTensor for tensors. */
    readonly root: unknown,
  ) {}

  static open(file: string): TorchCheckpoint {
    const fd = openSync(file, 'r');
    let legacy: boolean;
    try {
      const head = Buffer.alloc(LEGACY_MAGIC.length);
      const n = readSync(fd, head, 0, head.length, 0);
      if (n === 0) throw new CheckpointError('invalid_checkpoint', file, 'is empty');
      legacy = n === head.length && head.equals(LEGACY_MAGIC);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    if (legacy) return TorchCheckpoint.openLegacy(file, fd);
    closeSync(fd);
    return TorchCheckpoint.openZip(file);
  }

  private static openZip(file: string): TorchCheckpoint {
    const zip = ZipArchive.open(file);
    try {
      const pickles = [...zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
      if (pickles.length !== 1) {
        throw new CheckpointError(
          'invalid_checkpoint',
          file,
          `is a zip but not a torch.save archive (${pickles.length} '<name>/data.pkl' entries)`,
        );
      }
      const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
      const byteorder = zip.entries.get(`${prefix}byteorder`);
      if (byteorder && zip.readAll(byteorder).toString('ascii').trim() !== 'little') {
        throw new CheckpointError('unsupported_checkpoint', file, 'was saved on a big-endian machine');
      }
      const pickle = zip.entries.get(pickles[0]!)!;
      if (pickle.size > MAX_PICKLE_BYTES) throw new CheckpointError('invalid_checkpoint', file, `has a ${pickle.size}-byte data.pkl`);
      const entryOf = (storage: TorchStorage): ZipEntry => {
        const entry = zip.entries.get(`${prefix}data/${storage.key}`);
        if (!entry) throw new CheckpointError('invalid_checkpoint', file, `has no data for storage '${storage.key}'`);
        const needed = storage.numel * ITEM_SIZE[storage.dtype];
        if (entry.size < needed) {
          throw new CheckpointError(
            'invalid_checkpoint',
            file,
            `has storage '${storage.key}' of ${entry.size} bytes, but it declares ${storage.numel} ${storage.dtype} elements (${needed} bytes)`,
          );
        }
        return entry;
      };
      const root = unpickleTorch(file, zip.readAll(pickle), 0, 'data.pkl', (pid) => {
        // ('storage', <storage type>, key, location, numel)
        const storage = storageFromPid(file, pid, 5);
        if (!zip.entries.has(`${prefix}data/${storage.key}`))
          throw new CheckpointError('invalid_checkpoint', file, `references storage '${storage.key}', which the archive lacks`);
        return storage;
      }).value;
      const bytes: StorageBytes = { read: (storage, start, length) => zip.read(entryOf(storage), start, length), close: () => zip.close() };
      return new TorchCheckpoint(file, bytes, 'zip', root);
    } catch (error) {
      zip.close();
      throw error;
    }
  }

  /**
   * The legacy layout (torch/serialization.py `_legacy_save`): pickles of the magic number, the
   * protocol version (1001) and sys_info; the object, whose storages are persistent ids
   * ('storage', type, key, location, numel, view_metadata); the list of storage keys; then, for
   * each key in that order, an 8-byte little-endian element count and the storage's bytes.
   */
  private static openLegacy(file: string, fd: number): TorchCheckpoint {
    try {
      const size = fstatSync(fd).size;
      let window = Math.min(size, 2 ** 20);
      for (;;) {
        const head = Buffer.alloc(window);
        readFully(file, fd, head, 0);
        try {
          const { root, storages, dataStart } = parseLegacyPickles(file, head);
          const offsets = locateLegacyStorages(file, fd, size, storages, dataStart);
          const bytes: StorageBytes = {
            read: (storage, start, length) => {
              const base = offsets.get(storage.key);
              if (base === undefined) throw new CheckpointError('invalid_checkpoint', file, `has no data for storage '${storage.key}'`);
              if (start < 0 || start + length > storage.numel * ITEM_SIZE[storage.dtype]) {
                throw new CheckpointError(
                  'invalid_checkpoint',
                  file,
                  `reads bytes ${start}..${start + length} of storage '${storage.key}', which has ${storage.numel * ITEM_SIZE[storage.dtype]}`,
                );
              }
              const out = Buffer.alloc(length);
              readFully(file, fd, out, base + start);
              return out;
            },
            close: () => closeSync(fd),
          };
          return new TorchCheckpoint(file, bytes, 'legacy', root);
        } catch (error) {
          if (!(error instanceof PickleError && error.truncated)) throw error;
          if (window >= size)
            throw new CheckpointError('invalid_checkpoint', file, `is a legacy torch.save file that is truncated (${error.message})`);
          if (window >= MAX_PICKLE_BYTES)
            throw new CheckpointError('invalid_checkpoint', file, `has legacy pickles longer than ${MAX_PICKLE_BYTES} bytes`);
          window = Math.min(size, window * 4);
        }
      }
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  close(): void {
    this.bytes.close();
  }

  /** The tensor's values as a new contiguous float32 array (strides and offset applied). */
  readFloat32(tensor: TorchTensor, name: string): Float32Array {
    if (!FLOAT_DTYPES.has(tensor.dtype)) {
      throw new CheckpointError(
        'unsupported_checkpoint',
        this.file,
        `stores '${name}' as ${tensor.dtype}; weights must be float32, float16, bfloat16 or float64`,
      );
    }
    const itemSize = ITEM_SIZE[tensor.dtype];
    const count = tensor.numel;
    if (count === 0) return new Float32Array(0);
    const first = tensor.offset;
    const span = tensor.extent - first;
    const values = decode(this.bytes.read(tensor.storage, first * itemSize, span * itemSize), tensor.dtype, span);
    if (tensor.isContiguous) return values;
    const out = new Float32Array(count);
    gather(values, tensor.shape, tensor.stride, out);
    return out;
  }
}

function readFully(file: string, fd: number, out: Buffer, position: number): void {
  let done = 0;
  while (done < out.length) {
    const n = readSync(fd, out, done, Math.min(out.length - done, 1 << 30), position + done);
    if (n === 0) throw new CheckpointError('invalid_checkpoint', file, `ends at byte ${position + done}, inside data it declares`);
    done += n;
  }
}

/** The four pickles after the magic number; throws a truncated PickleError when `head` is too short. */
function parseLegacyPickles(file: string, head: Buffer): { root: unknown; storages: Map<string, TorchStorage>; dataStart: number } {
  const data = (at: number, what: string) =>
    unpickleTorch(
      file,
      head,
      at,
      what,
      () => {
        throw new CheckpointError('invalid_checkpoint', file, `has a persistent id in its ${what} pickle`);
      },
      true,
    );
  const protocol = data(LEGACY_MAGIC.length, 'protocol version');
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      `is a legacy torch.save file of protocol version ${String(protocol.value)} (only ${LEGACY_PROTOCOL_VERSION} is read)`,
    );
  }
  const sysInfo = data(protocol.end, 'sys_info');
  if (!(sysInfo.value instanceof Map))
    throw new CheckpointError('invalid_checkpoint', file, `has a sys_info that is a ${describe(sysInfo.value)}, not a dict`);
  if (sysInfo.value.get('little_endian') !== true)
    throw new CheckpointError('unsupported_checkpoint', file, 'was saved on a big-endian machine');
  const storages = new Map<string, TorchStorage>();
  const main = unpickleTorch(file, head, sysInfo.end, 'object', (pid) => {
    const storage = storageFromPid(file, pid, 6);
    const view = (pid as readonly unknown[])[5];
    if (view !== null) {
      throw new CheckpointError(
        'unsupported_checkpoint',
        file,
        `has a storage view (view_metadata ${describe(view)}), which only torch < 1.0 wrote; load it in PyTorch and save it again`,
      );
    }
    const existing = storages.get(storage.key);
    if (existing && (existing.dtype !== storage.dtype || existing.numel !== storage.numel)) {
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `declares storage '${storage.key}' twice, as ${existing.numel} ${existing.dtype} and as ${storage.numel} ${storage.dtype}`,
      );
    }
    storages.set(storage.key, existing ?? storage);
    return existing ?? storage;
  });
  const keys = data(main.end, 'storage keys');
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) {
    throw new CheckpointError(
      'invalid_checkpoint',
      file,
      `has a storage key list that is a ${describe(keys.value)}, not a list of strings`,
    );
  }
  const listed = keys.value as string[];
  const missing = [...storages.keys()].filter((k) => !listed.includes(k));
  const extra = listed.filter((k) => !storages.has(k));
  if (missing.length || extra.length || new Set(listed).size !== listed.length) {
    throw new CheckpointError(
      'invalid_checkpoint',
      file,
      `lists storages [${listed.slice(0, 5).join(', ')}${listed.length > 5 ? ', ...' : ''}] that do not match the ${storages.size} its tensors use${missing.length ? ` (unlisted: ${missing.slice(0, 5).join(', ')})` : ''}`,
    );
  }
  // Order the map as the bytes follow.
  const ordered = new Map(listed.map((k) => [k, storages.get(k)!] as const));
  return { root: main.value, storages: ordered, dataStart: keys.end };
}

/** Each storage's first byte in the file, after checking every count and that the file holds them all. */
function locateLegacyStorages(
  file: string,
  fd: number,
  size: number,
  storages: Map<string, TorchStorage>,
  dataStart: number,
): Map<string, number> {
  const offsets = new Map<string, number>();
  const countBytes = Buffer.alloc(8);
  let at = dataStart;
  for (const [key, storage] of storages) {
    const bytes = storage.numel * ITEM_SIZE[storage.dtype];
    if (at + 8 > size)
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `is truncated: it ends at byte ${size}, before the length of storage '${key}' at byte ${at}`,
      );
    readFully(file, fd, countBytes, at);
    const count = countBytes.readBigInt64LE(0);
    if (count !== BigInt(storage.numel)) {
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `has ${count} elements for storage '${key}' at byte ${at}, but its tensors declare ${storage.numel}`,
      );
    }
    if (at + 8 + bytes > size) {
      throw new CheckpointError(
        'invalid_checkpoint',
        file,
        `is truncated: storage '${key}' needs bytes ${at + 8}..${at + 8 + bytes} of a ${size}-byte file`,
      );
    }
    offsets.set(key, at + 8);
    at += 8 + bytes;
  }
  return offsets;
}

/** ('storage', <storage type>, key, location, numel[, view_metadata]) -> the storage it names. */
function storageFromPid(file: string, pid: unknown, length: number): TorchStorage {
  if (!Array.isArray(pid) || pid.length !== length || pid[0] !== 'storage') {
    throw new CheckpointError(
      'invalid_checkpoint',
      file,
      `has a persistent id that is not a storage (${Array.isArray(pid) ? `a ${pid.length}-tuple starting ${String(pid[0]).slice(0, 20)}` : describe(pid)})`,
    );
  }
  const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
  if (!(type instanceof StorageType) || typeof key !== 'string' || !Number.isInteger(numel) || (numel as number) < 0) {
    throw new CheckpointError('invalid_checkpoint', file, 'has a malformed storage reference');
  }
  return { key, dtype: type.dtype, numel: numel as number };
}

/**
 * Unpickles one pickle of `bytes` from `start`. `plainData` pickles (the legacy header pickles)
 * may name no global at all.
 */
function unpickleTorch(
  file: string,
  bytes: Buffer,
  start: number,
  what: string,
  storage: (pid: unknown) => TorchStorage,
  plainData = false,
): { value: unknown; end: number } {
  const storages = new Map<string, TorchStorage>();
  const orderedDicts = new WeakSet<PyDict>();
  const hooks: PickleHooks = {
    global: (module, name) => {
      if (plainData)
        throw new CheckpointError(
          'unsafe_checkpoint',
          file,
          `names the Python global '${module}.${name}' in its ${what} pickle, which holds plain data`,
        );
      return allowedGlobal(file, module, name, orderedDicts);
    },
    // torch.save(model.state_dict()) sets the OrderedDict's `_metadata` (per-module versions) with
    // BUILD: that is the only state a dict may carry, and it is dropped (we never load into modules).
    buildDict: (target, state) => {
      if (!orderedDicts.has(target))
        throw new CheckpointError('unsafe_checkpoint', file, 'has a pickle that sets the state of a plain dict');
      const names = state instanceof Map ? [...state.keys()] : undefined;
      if (!names || names.some((k) => k !== '_metadata')) {
        throw new CheckpointError(
          'invalid_checkpoint',
          file,
          `sets OrderedDict attributes other than _metadata (${names ? names.map(String).join(', ') : describe(state)})`,
        );
      }
    },
    persistentLoad: (pid) => {
      const found = storage(pid);
      const existing = storages.get(found.key);
      if (existing) return existing;
      storages.set(found.key, found);
      return found;
    },
  };
  try {
    return unpickleAt(bytes, start, hooks);
  } catch (error) {
    if (error instanceof PickleError) {
      if (error.truncated && what !== 'data.pkl') throw error; // the legacy reader reads further
      throw new CheckpointError(
        error.unsafe ? 'unsafe_checkpoint' : 'invalid_checkpoint',
        file,
        `has an unreadable ${what} pickle: ${error.message}`,
      );
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
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'collections.OrderedDict',
  'torch.Size',
  'argparse.Namespace',
  'builtins.set',
  'builtins.frozenset',
  'numpy.dtype',
  'numpy.core.multiarray.scalar',
  '_codecs.encode (latin1 only)',
  ...Object.keys(STORAGE_TYPES).map((type) => `torch.${type}`),
];

function allowedGlobal(file: string, module: string, name: string, orderedDicts: WeakSet<PyDict>): unknown {
  const qualified = `${module}.${name}`;
  const bad = (reason: string): never => {
    throw new CheckpointError('invalid_checkpoint', file, `calls ${qualified} with ${reason}`);
  };
  switch (qualified) {
    case 'torch._utils._rebuild_tensor_v2':
    case 'torch._utils._rebuild_tensor':
      return callable(qualified, (args) => {
        const [storage, offset, shape, stride] = args as [unknown, unknown, unknown, unknown];
        if (!storage || typeof storage !== 'object' || !('key' in storage)) bad('something that is not a storage');
        if (
          !isIntList(shape) ||
          !isIntList(stride) ||
          shape.length !== stride.length ||
          !Number.isInteger(offset) ||
          (offset as number) < 0
        ) {
          bad('a malformed shape, stride or offset');
        }
        const tensor = new TorchTensor(storage as TorchStorage, offset as number, shape as number[], stride as number[]);
        if (tensor.extent > (storage as TorchStorage).numel) {
          throw new CheckpointError(
            'invalid_checkpoint',
            file,
            `has a tensor of shape [${tensor.shape.join(', ')}] that reaches element ${tensor.extent} of a storage of ${(storage as TorchStorage).numel}`,
          );
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
    case 'builtins.set':
    case 'builtins.frozenset':
      // DeepSpeed model states hold sets of names; protocol 2 pickles them through these.
      return callable(qualified, (args) => new Set(Array.isArray(args[0]) ? args[0] : []));
    case 'torch.Size':
      return callable(qualified, (args) => (Array.isArray(args[0]) ? Object.freeze([...args[0]]) : bad('a non-tuple')));
    case 'argparse.Namespace': {
      const cls: PickleClass = { kind: 'class', qualifiedName: qualified, construct: () => new InertObject(qualified) };
      return cls;
    }
    case '_codecs.encode':
      // Protocol 2 writes bytes (a numpy scalar's value) as _codecs.encode(text, 'latin1').
      return callable(qualified, (args) => {
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1') || args.length !== 2)
          bad(`(${args.map(describe).join(', ')}); only (text, 'latin1') makes bytes`);
        return Uint8Array.from(Buffer.from(text as string, 'latin1'));
      });
    case 'numpy.dtype':
      return callable(qualified, (args) => {
        if (typeof args[0] !== 'string' || args[0].length > 16) bad('a type description that is not a short string');
        return new NumpyDtype(args[0] as string);
      });
    case 'numpy.core.multiarray.scalar':
    case 'numpy._core.multiarray.scalar':
      return callable(qualified, (args) => {
        const [dtype, bytes] = args;
        if (!(dtype instanceof NumpyDtype) || !(bytes instanceof Uint8Array) || args.length !== 2)
          bad('arguments that are not (dtype, bytes)');
        return numpyScalar(file, dtype as NumpyDtype, bytes as Uint8Array);
      });
  }
  if (module === 'torch' && name in STORAGE_TYPES) return new StorageType(STORAGE_TYPES[name]!);
  throw new CheckpointError(
    'unsafe_checkpoint',
    file,
    `names the Python global '${qualified}', which a state dict never needs; only ${ALLOWED.join(', ')} are allowed (nothing in a checkpoint is ever run)`,
  );
}

/** A numpy scalar's value (np.float64, np.int64, np.bool_, ...) as a JS number or boolean. */
function numpyScalar(file: string, dtype: NumpyDtype, bytes: Uint8Array): number | boolean {
  const match = /^([<>|=]?)([fiub?])(\d*)$/.exec(dtype.descr);
  const kind = match?.[2];
  const size = kind === '?' ? 1 : Number(match?.[3]);
  const ok = kind === 'f' ? [2, 4, 8].includes(size) : kind === 'b' || kind === '?' ? size === 1 : [1, 2, 4, 8].includes(size);
  if (!match || !ok)
    throw new CheckpointError(
      'unsupported_checkpoint',
      file,
      `holds a numpy scalar of dtype '${dtype.descr}'; only bool, int, uint and float scalars are read`,
    );
  if (bytes.length !== size)
    throw new CheckpointError('invalid_checkpoint', file, `holds a numpy '${dtype.descr}' scalar of ${bytes.length} bytes`);
  const data = Buffer.from(bytes);
  const order = match[1] || dtype.byteorder;
  if (order === '>' && size > 1) data.reverse();
  if (kind === 'b' || kind === '?') return data[0] !== 0;
  if (kind === 'f') return size === 2 ? float16BytesToFloat32(data, 1)[0]! : size === 4 ? data.readFloatLE(0) : data.readDoubleLE(0);
  const big = kind === 'i' ? BigInt.asIntN(8 * size, bytesToBigInt(data)) : BigInt.asUintN(8 * size, bytesToBigInt(data));
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new CheckpointError('unsupported_checkpoint', file, `holds a numpy '${dtype.descr}' scalar (${big}) too large for this reader`);
  }
  return Number(big);
}

function bytesToBigInt(littleEndian: Buffer): bigint {
  let value = 0n;
  for (let i = littleEndian.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(littleEndian[i]!);
  return value;
}

function isIntList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v >= 0);
}

function decode(bytes: Buffer, dtype: TorchDtype, count: number): Float32Array {
  switch (dtype) {
    case 'float16':
      return float16BytesToFloat32(bytes, count);
    case 'bfloat16':
      return bfloat16BytesToFloat32(bytes, count);
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

/**
 * A strict unpickler for the data subset of Python's pickle (protocols 0-5): numbers, strings,
 * bytes, tuples, lists, dicts, sets, memo, marks. Anything that would run code in Python goes
 * through `hooks`: a GLOBAL is resolved by `hooks.global`, which refuses every name it does not
 * know, and REDUCE / NEWOBJ / BUILD only work on the inert stand-ins it returned. Nothing is ever
 * evaluated. INST, OBJ and the extension registry are refused outright.
 */

/** What `hooks.global` returns for a callable: applied by REDUCE. */
export interface PickleCallable {
  readonly kind: 'callable';
  readonly qualifiedName: string;
  call(args: readonly unknown[]): unknown;
}

/** What `hooks.global` returns for a class: instantiated by NEWOBJ, then BUILD sets its state. */
export interface PickleClass {
  readonly kind: 'class';
  readonly qualifiedName: string;
  construct(args: readonly unknown[]): PickleObject;
}

export interface PickleObject {
  setState(state: unknown): void;
}

export interface PickleHooks {
  global(module: string, name: string): PickleCallable | PickleClass | unknown;
  persistentLoad(pid: unknown): unknown;
  /**
   * BUILD on a dict (an OrderedDict subclass's instance attributes, e.g. a state dict's
   * `_metadata`): the hook decides; without one, BUILD on a dict is refused.
   */
  buildDict?(target: PyDict, state: unknown): void;
}

/** A malformed or refused pickle; the caller names the file. */
export class PickleError extends Error {
  constructor(
    message: string,
    readonly unsafe = false,
    readonly truncated = false,
  ) {
    super(message);
  }
}

/** Python dicts (keys are strings or numbers in a state dict). */
export type PyDict = Map<unknown, unknown>;

/** Python 2 module names that protocol-2 pickles use, as Python 3's unpickler renames them (fix_imports). */
const PYTHON2_MODULES: Readonly<Record<string, string>> = { __builtin__: 'builtins', copy_reg: 'copyreg' };

export function unpickle(bytes: Uint8Array, hooks: PickleHooks): unknown {
  return unpickleAt(bytes, 0, hooks).value;
}

/**
 * One pickle starting at byte `start` (files such as the legacy torch format hold several in a
 * row): its value and the byte after its STOP. A pickle that runs past the end of `bytes` throws a
 * PickleError with `truncated` set, so a caller holding only a prefix of a file can read more.
 */
export function unpickleAt(bytes: Uint8Array, start: number, hooks: PickleHooks): { value: unknown; end: number } {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let p = start;

  const need = (n: number): void => {
    if (p + n > data.length) throw new PickleError(`pickle is truncated at byte ${p} (needs ${n} more)`, false, true);
  };
  const u8 = (): number => {
    need(1);
    return data[p++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = data.readUInt16LE(p);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = data.readUInt32LE(p);
    p += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = data.readInt32LE(p);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = data.readBigUInt64LE(p);
    p += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new PickleError(`pickle declares a length of ${v} bytes`);
    return Number(v);
  };
  const take = (n: number): Buffer => {
    need(n);
    const v = data.subarray(p, p + n);
    p += n;
    return v;
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new PickleError(`pickle is truncated at byte ${p} (line without end)`, false, true);
    const text = data.toString('latin1', p, end);
    p = end + 1;
    return text;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1]!))
      throw new PickleError(`pickle pops an empty stack at byte ${p}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new PickleError(`pickle reads an empty stack at byte ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) throw new PickleError(`pickle closes a mark it never opened at byte ${p}`);
    return stack.splice(mark);
  };
  const memoGet = (index: number): unknown => {
    if (!memo.has(index)) throw new PickleError(`pickle reads memo slot ${index}, which was never written`);
    return memo.get(index);
  };
  const dictOf = (value: unknown, opcode: string): PyDict => {
    if (!(value instanceof Map)) throw new PickleError(`pickle applies ${opcode} to a ${describe(value)}, not a dict`);
    return value;
  };
  const listOf = (value: unknown, opcode: string): unknown[] => {
    if (!Array.isArray(value) || Object.isFrozen(value))
      throw new PickleError(`pickle applies ${opcode} to a ${describe(value)}, not a list`);
    return value;
  };
  const tuple = (items: unknown[]): readonly unknown[] => Object.freeze(items);
  const global = (module: string, name: string): unknown => hooks.global(PYTHON2_MODULES[module] ?? module, name);
  const longFrom = (raw: Buffer): number => {
    if (raw.length === 0) return 0;
    let value = 0n;
    for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!);
    if (raw[raw.length - 1]! & 0x80) value -= 1n << BigInt(8 * raw.length);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new PickleError(`pickle holds an integer too large for this reader (${raw.length} bytes)`);
    }
    return Number(value);
  };

  for (;;) {
    const at = p;
    const opcode = u8();
    switch (opcode) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        u64();
        break; // FRAME: framing is only a read-ahead hint
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length) throw new PickleError(`pickle stops with ${stack.length} values on the stack`);
        return { value: stack[0], end: p };
      }
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x8a:
        stack.push(longFrom(take(u8())));
        break; // LONG1
      case 0x8b: {
        const n = i32();
        if (n < 0) throw new PickleError('pickle has a negative LONG4 length');
        stack.push(longFrom(take(n)));
        break;
      }
      case 0x49: {
        // INT (text; "01"/"00" are the protocol-0 booleans)
        const text = line();
        stack.push(text === '01' ? true : text === '00' ? false : parseNumber(text));
        break;
      }
      case 0x4c:
        stack.push(parseNumber(line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x47: {
        need(8);
        stack.push(data.readDoubleBE(p));
        p += 8;
        break;
      } // BINFLOAT
      case 0x46:
        stack.push(parseNumber(line()));
        break; // FLOAT (text)
      case 0x58:
        stack.push(take(u32()).toString('utf8'));
        break; // BINUNICODE
      case 0x8c:
        stack.push(take(u8()).toString('utf8'));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(take(u64()).toString('utf8'));
        break; // BINUNICODE8
      case 0x54: {
        const n = i32();
        if (n < 0) throw new PickleError('pickle has a negative string length');
        stack.push(take(n).toString('latin1'));
        break;
      } // BINSTRING
      case 0x55:
        stack.push(take(u8()).toString('latin1'));
        break; // SHORT_BINSTRING
      case 0x42:
        stack.push(Uint8Array.from(take(u32())));
        break; // BINBYTES
      case 0x43:
        stack.push(Uint8Array.from(take(u8())));
        break; // SHORT_BINBYTES
      case 0x8e:
      case 0x96:
        stack.push(Uint8Array.from(take(u64())));
        break; // BINBYTES8, BYTEARRAY8
      case 0x29:
        stack.push(tuple([]));
        break; // EMPTY_TUPLE
      case 0x74:
        stack.push(tuple(popMark()));
        break; // TUPLE
      case 0x85:
        stack.push(tuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(tuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x61: {
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        listOf(top(), 'APPENDS').push(...items);
        break;
      } // APPENDS
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x64: {
        // DICT
        const items = popMark();
        const dict: PyDict = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(key(items[i]), items[i + 1]);
        stack.push(dict);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        dictOf(top(), 'SETITEM').set(key(k), v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const dict = dictOf(top(), 'SETITEMS');
        for (let i = 0; i + 1 < items.length; i += 2) dict.set(key(items[i]), items[i + 1]);
        break;
      }
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const set = top();
        if (!(set instanceof Set)) throw new PickleError(`pickle applies ADDITEMS to a ${describe(set)}`);
        for (const item of items) set.add(item);
        break;
      }
      case 0x91:
        stack.push(new Set(popMark()));
        break; // FROZENSET
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw new PickleError('pickle names a global with non-string parts');
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!isCallable(callable)) throw new PickleError(`pickle calls a ${describe(callable)} at byte ${at}`, true);
        if (!Array.isArray(args)) throw new PickleError(`pickle calls ${callable.qualifiedName} with non-tuple arguments`);
        stack.push(callable.call(args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        if (!isClass(cls)) throw new PickleError(`pickle instantiates a ${describe(cls)} at byte ${at}`, true);
        stack.push(cls.construct(Array.isArray(args) ? args : []));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        if (!isClass(cls)) throw new PickleError(`pickle instantiates a ${describe(cls)} at byte ${at}`, true);
        stack.push(cls.construct(Array.isArray(args) ? args : []));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        const target = top();
        if (target instanceof Map && hooks.buildDict) {
          hooks.buildDict(target, state);
          break;
        }
        if (!isObject(target)) throw new PickleError(`pickle sets the state of a ${describe(target)} at byte ${at}`, true);
        target.setState(state);
        break;
      }
      case 0x70:
        memo.set(parseNumber(line()), top());
        break; // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
        stack.push(memoGet(parseNumber(line())));
        break; // GET
      case 0x68:
        stack.push(memoGet(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memoGet(u32()));
        break; // LONG_BINGET
      case 0x50:
        stack.push(hooks.persistentLoad(line()));
        break; // PERSID
      case 0x51:
        stack.push(hooks.persistentLoad(pop()));
        break; // BINPERSID
      case 0x69:
      case 0x6f:
      case 0x82:
      case 0x83:
      case 0x84:
        throw new PickleError(`pickle uses opcode 0x${opcode.toString(16)} (INST/OBJ/EXT), which builds arbitrary objects`, true);
      default:
        throw new PickleError(`pickle has an unknown or unsupported opcode 0x${opcode.toString(16)} at byte ${at}`);
    }
    if (marks.length && marks[marks.length - 1]! > stack.length) throw new PickleError(`pickle pops past a mark at byte ${at}`);
  }

  function key(value: unknown): unknown {
    // Tuples as keys never occur in state dicts; keep them as their text so the Map stays usable.
    return Array.isArray(value) ? JSON.stringify(value) : value;
  }
}

function parseNumber(text: string): number {
  const value = Number(text.trim());
  if (!Number.isFinite(value)) throw new PickleError(`pickle holds a number that does not parse: '${text.slice(0, 40)}'`);
  return value;
}

function isCallable(value: unknown): value is PickleCallable {
  return typeof value === 'object' && value !== null && (value as PickleCallable).kind === 'callable';
}

function isClass(value: unknown): value is PickleClass {
  return typeof value === 'object' && value !== null && (value as PickleClass).kind === 'class';
}

function isObject(value: unknown): value is PickleObject {
  return typeof value === 'object' && value !== null && typeof (value as PickleObject).setState === 'function';
}

export function describe(value: unknown): string {
  if (value === null) return 'None';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'tuple' : 'list';
  if (value instanceof Map) return 'dict';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
  return typeof value;
}

/**
 * The strict unpickler on hand-assembled pickles (the opcodes torch and Python emit, and the ones
 * that must be refused), and the float16 conversions bit for bit.
 */
import { describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16, roundToFloat16InPlace } from '../../src/weights/half.js';
import { PickleError, unpickle, unpickleAt, type PickleHooks } from '../../src/weights/pickle.js';

const refuseAll: PickleHooks = {
  global: (module, name) => {
    throw new PickleError(`global ${module}.${name} refused`, true);
  },
  persistentLoad: (pid) => ({ pid }),
};

const bytes = (...parts: Array<string | ArrayLike<number>>): Uint8Array =>
  Uint8Array.from(parts.flatMap((p) => (typeof p === 'string' ? [...Buffer.from(p, 'latin1')] : Array.from(p))));
const u32 = (n: number) => [n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24];
const unicode = (s: string) => bytes('X', u32(Buffer.byteLength(s)), s);

describe('unpickle', () => {
  it('reads pickles in a row (the legacy torch format) and says where each ends; one cut short is flagged truncated', () => {
    const data = Buffer.from('80024b072e800258010000007871002e', 'hex'); // pickle.dumps(7) + pickle.dumps('x'), protocol 2
    const first = unpickleAt(data, 0, refuseAll);
    expect(first).toEqual({ value: 7, end: 5 });
    expect(unpickleAt(data, first.end, refuseAll)).toEqual({ value: 'x', end: data.length });
    const cut = (() => {
      try {
        unpickleAt(data.subarray(0, 10), first.end, refuseAll);
      } catch (error) {
        return error;
      }
    })();
    expect(cut).toBeInstanceOf(PickleError);
    expect(cut).toMatchObject({ truncated: true, unsafe: false });
  });

  it("names protocol 2's __builtin__ globals as Python 3 does (builtins)", () => {
    const named: string[] = [];
    const hooks: PickleHooks = {
      ...refuseAll,
      global: (module, name) => {
        named.push(`${module}.${name}`);
        return { kind: 'callable', qualifiedName: name, call: () => new Set([1]) };
      },
    };
    expect(unpickle(Buffer.from('8002635f5f6275696c74696e5f5f0a7365740a71005d71014b01618571025271032e', 'hex'), hooks)).toEqual(
      new Set([1]),
    ); // pickle.dumps({1}, 2)
    expect(named).toEqual(['builtins.set']);
  });

  it('reads protocol-2 dicts, lists, tuples, ints, floats and the memo (shared objects stay shared)', () => {
    // {'a': [1, 300, -2], 'b': <same list>, 'c': (1.5, None, True)}
    const data = bytes(
      '\x80\x02}q\x00(',
      unicode('a'),
      ']q\x01(K\x01M',
      [44, 1],
      'J',
      [254, 255, 255, 255],
      'e',
      unicode('b'),
      'h\x01',
      unicode('c'),
      'G',
      [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
      'N\x88\x87u.',
    );
    const value = unpickle(data, refuseAll) as Map<string, unknown>;
    expect(value.get('a')).toEqual([1, 300, -2]);
    expect(value.get('b')).toBe(value.get('a'));
    expect(value.get('c')).toEqual([1.5, null, true]);
    expect(Object.isFrozen(value.get('c'))).toBe(true);
  });

  it('reads protocol-4 frames, short strings, MEMOIZE, LONG1 and persistent ids', () => {
    const data = bytes('\x80\x04\x95', [20, 0, 0, 0, 0, 0, 0, 0], '\x8c\x03abc\x94\x8a\x02', [0x00, 0x80], '\x86\x94h\x00Q\x86.');
    expect(unpickle(data, refuseAll)).toEqual([['abc', -32768], { pid: 'abc' }]);
  });

  it('asks the hooks for every global and refuses what they refuse', () => {
    const data = bytes('\x80\x02cposix\nsystem\nq\x00', unicode('id'), '\x85R.');
    expect(() => unpickle(data, refuseAll)).toThrow(/global posix\.system refused/);
  });

  it('refuses INST / OBJ, which build arbitrary objects, as unsafe', () => {
    const inst = bytes('(ios\nsystem\n.');
    expect(() => unpickle(inst, refuseAll)).toThrow(expect.objectContaining({ unsafe: true, message: expect.stringMatching(/INST\/OBJ/) }));
  });

  it('refuses to call anything that is not an allowed callable', () => {
    const data = bytes('\x80\x02', unicode('not callable'), ')R.');
    expect(() => unpickle(data, refuseAll)).toThrow(
      expect.objectContaining({ unsafe: true, message: expect.stringMatching(/calls a string/) }),
    );
  });

  it('names truncation, unknown opcodes, bad memo reads and stack underflow', () => {
    expect(() => unpickle(bytes('\x80\x02X', [10, 0, 0, 0], 'ab'), refuseAll)).toThrow(/truncated/);
    expect(() => unpickle(bytes('\x80\x02\xff.'), refuseAll)).toThrow(/unknown or unsupported opcode 0xff/);
    expect(() => unpickle(bytes('\x80\x02h\x07.'), refuseAll)).toThrow(/memo slot 7/);
    expect(() => unpickle(bytes('\x80\x02s.'), refuseAll)).toThrow(/empty stack/);
    expect(() => unpickle(bytes('\x80\x02N'), refuseAll)).toThrow(/truncated/);
  });
});

describe('float16', () => {
  it('round-trips every finite float16 exactly', () => {
    for (let bits = 0; bits < 65536; bits++) {
      const value = float16ToFloat32(bits);
      if (Number.isNaN(value)) continue;
      expect(float32ToFloat16(value)).toBe(bits);
    }
  });

  it('rounds to nearest even, to subnormals, to zero and to infinity as torch does', () => {
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie -> even (up)
    expect(float32ToFloat16(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // past the tie
    expect(float32ToFloat16(65504)).toBe(0x7bff);
    expect(float32ToFloat16(65520)).toBe(0x7c00); // halfway to 65536: rounds up into infinity
    expect(float32ToFloat16(2 ** -25)).toBe(0); // half the smallest subnormal: tie -> even (zero)
    expect(float32ToFloat16(3 * 2 ** -25)).toBe(0x0002);
    expect(float32ToFloat16(-0)).toBe(0x8000);
    expect(float32ToFloat16(Number.NaN) & 0x7c00).toBe(0x7c00);
    expect(Array.from(roundToFloat16InPlace(Float32Array.of(0.1, -3.14159)))).toEqual([float16ToFloat32(0x2e66), float16ToFloat32(0xc248)]);
  });
});

/**
 * Walking the fields of a protobuf message inside a file without reading the rest: the ONNX
 * readers (metadata, graph signature) use it to skip the initializers, which may be gigabytes.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ProtobufFile {
  readonly size: number;
  /** Calls `visit` for each length-delimited field of the message in [start, end); other fields are skipped. */
  scan(start: number, end: number, visit: (field: number, start: number, length: number) => void): void;
  /** The bytes [start, start + length). */
  read(start: number, length: number): Buffer;
}

/** Opens `file`, gives `work` its fields, closes it. */
export function withProtobufFile<T>(file: string, work: (proto: ProtobufFile) => T): T {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const byte = Buffer.alloc(1);
    let position = 0;
    const readVarint = (): number => {
      let value = 0;
      let shift = 0;
      for (;;) {
        if (position >= size || readSync(fd, byte, 0, 1, position) !== 1) throw new Error(`truncated ONNX file '${file}'`);
        position++;
        value += (byte[0]! & 0x7f) * 2 ** shift;
        if ((byte[0]! & 0x80) === 0) return value;
        shift += 7;
      }
    };
    const proto: ProtobufFile = {
      size,
      scan(start, end, visit) {
        position = start;
        while (position < end) {
          const tag = readVarint();
          const field = Math.floor(tag / 8);
          const wireType = tag % 8;
          if (wireType === 0) readVarint();
          else if (wireType === 1) position += 8;
          else if (wireType === 5) position += 4;
          else if (wireType === 2) {
            const length = readVarint();
            const at = position;
            visit(field, at, length);
            position = at + length;
          } else throw new Error(`unexpected wire type ${wireType} in ONNX file '${file}'`);
        }
      },
      read(start, length) {
        const bytes = Buffer.alloc(length);
        readSync(fd, bytes, 0, length, start);
        return bytes;
      },
    };
    return work(proto);
  } finally {
    closeSync(fd);
  }
}

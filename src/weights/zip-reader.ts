/**
 * A read-only zip reader for torch.save archives: the central directory (ZIP64 included, torch
 * writes it past 4 GB) and byte ranges of stored entries, read with positional reads so a
 * multi-GB archive is never held in memory. Deflated entries are inflated whole (torch stores).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { CheckpointError } from './checkpoint-error.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
/** EOCD (22 bytes) plus the longest comment. */
const EOCD_SEARCH = 22 + 0xffff;

export class ZipArchive {
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    private readonly fd: number,
    readonly file: string,
    readonly fileSize: number,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static open(file: string): ZipArchive {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      return new ZipArchive(fd, file, size, readCentralDirectory(fd, file, size));
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /** `length` bytes of the entry's uncompressed content starting at `start`. */
  read(entry: ZipEntry, start: number, length: number): Buffer {
    if (start < 0 || length < 0 || start + length > entry.size) {
      throw this.error(`entry '${entry.name}' has ${entry.size} bytes; bytes ${start}..${start + length} were asked for`);
    }
    if (entry.method === 8) return this.inflate(entry).subarray(start, start + length);
    const out = Buffer.alloc(length);
    const position = this.dataOffset(entry) + start;
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(length - done, 1 << 30), position + done);
      if (n === 0) throw this.error(`ends inside entry '${entry.name}'`);
      done += n;
    }
    return out;
  }

  readAll(entry: ZipEntry): Buffer {
    return this.read(entry, 0, entry.size);
  }

  private inflate(entry: ZipEntry): Buffer {
    if (entry.size > 2 ** 31 - 1)
      throw this.error(`compresses entry '${entry.name}' to ${entry.size} bytes; compressed entries over 2 GiB are not read`);
    const raw = Buffer.alloc(entry.compressedSize);
    readSync(this.fd, raw, 0, raw.length, this.dataOffset(entry));
    try {
      const out = inflateRawSync(raw, { maxOutputLength: entry.size });
      if (out.length !== entry.size) throw new Error(`${out.length} bytes instead of ${entry.size}`);
      return out;
    } catch (error) {
      throw this.error(`has a corrupt compressed entry '${entry.name}': ${(error as Error).message}`);
    }
  }

  private dataOffset(entry: ZipEntry): number {
    const cached = this.dataOffsets.get(entry.name);
    if (cached !== undefined) return cached;
    const header = Buffer.alloc(30);
    if (readSync(this.fd, header, 0, 30, entry.localHeaderOffset) !== 30 || header.readUInt32LE(0) !== LOCAL_SIGNATURE) {
      throw this.error(`has no local header for entry '${entry.name}' at byte ${entry.localHeaderOffset}`);
    }
    const offset = entry.localHeaderOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
    const stored = entry.method === 8 ? entry.compressedSize : entry.size;
    if (offset + stored > this.fileSize) {
      throw this.error(`is truncated: entry '${entry.name}' needs bytes up to ${offset + stored} of a ${this.fileSize}-byte file`);
    }
    this.dataOffsets.set(entry.name, offset);
    return offset;
  }

  private error(reason: string): CheckpointError {
    return new CheckpointError('invalid_checkpoint', this.file, reason);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  const n = readSync(fd, out, 0, length, position);
  return out.subarray(0, n);
}

function readCentralDirectory(fd: number, file: string, size: number): Map<string, ZipEntry> {
  const fail = (reason: string): never => {
    throw new CheckpointError('invalid_checkpoint', file, reason);
  };
  const tailStart = Math.max(0, size - EOCD_SEARCH);
  const tail = readAt(fd, tailStart, size - tailStart);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('is not a zip archive, or is truncated (no end-of-central-directory record)');
  let count = tail.readUInt16LE(eocd + 10);
  let directorySize = tail.readUInt32LE(eocd + 12);
  let directoryOffset = tail.readUInt32LE(eocd + 16);
  if (count === 0xffff || directorySize === 0xffffffff || directoryOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || tail.readUInt32LE(locator) !== ZIP64_LOCATOR_SIGNATURE) fail('has a ZIP64 directory without its locator');
    const record = readAt(fd, Number(tail.readBigUInt64LE(locator + 8)), 56);
    if (record.length < 56 || record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) fail('has a broken ZIP64 end-of-directory record');
    count = Number(record.readBigUInt64LE(32));
    directorySize = Number(record.readBigUInt64LE(40));
    directoryOffset = Number(record.readBigUInt64LE(48));
  }
  if (directoryOffset + directorySize > size || directorySize > 256 * 2 ** 20) {
    fail(`declares a central directory at bytes ${directoryOffset}..${directoryOffset + directorySize} of a ${size}-byte file`);
  }
  const directory = readAt(fd, directoryOffset, directorySize);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > directory.length || directory.readUInt32LE(p) !== CENTRAL_SIGNATURE) fail(`has a broken central directory (entry ${i})`);
    const flags = directory.readUInt16LE(p + 8);
    const method = directory.readUInt16LE(p + 10);
    let compressedSize = directory.readUInt32LE(p + 20);
    let entrySize = directory.readUInt32LE(p + 24);
    const nameLength = directory.readUInt16LE(p + 28);
    const extraLength = directory.readUInt16LE(p + 30);
    const commentLength = directory.readUInt16LE(p + 32);
    let localHeaderOffset = directory.readUInt32LE(p + 42);
    const name = directory.toString('utf8', p + 46, p + 46 + nameLength);
    // ZIP64 extra field: the 64-bit values of whichever fields were saturated, in this order.
    let extra = p + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = directory.readUInt16LE(extra);
      const length = directory.readUInt16LE(extra + 2);
      if (id === 0x0001) {
        let q = extra + 4;
        const next = (): number => {
          const v = Number(directory.readBigUInt64LE(q));
          q += 8;
          return v;
        };
        if (entrySize === 0xffffffff) entrySize = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next();
      }
      extra += 4 + length;
    }
    if (flags & 1) throw new CheckpointError('unsupported_checkpoint', file, `has an encrypted entry '${name}'`);
    if (method !== 0 && method !== 8)
      throw new CheckpointError('unsupported_checkpoint', file, `compresses entry '${name}' with zip method ${method}`);
    if (localHeaderOffset >= size) fail(`is truncated: entry '${name}' starts at byte ${localHeaderOffset} of a ${size}-byte file`);
    entries.set(name, { name, method, compressedSize, size: entrySize, localHeaderOffset });
    p = extraEnd + commentLength;
  }
  return entries;
}

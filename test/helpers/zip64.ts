/**
 * Rewrites a small zip's central directory in ZIP64 form (every size and offset saturated to
 * 0xFFFFFFFF and given in a ZIP64 extra field; a ZIP64 end record and locator), the form torch.save
 * writes past 4 GiB. Local headers and data stay as they are. Written from the zip spec (APPNOTE
 * 4.3.12, 4.3.14-16, 4.5.3), independently of src/weights/zip-reader.ts.
 */
export function toZip64(zip: Buffer): Buffer {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('not a zip');
  const count = zip.readUInt16LE(eocd + 10);
  const directoryOffset = zip.readUInt32LE(eocd + 16);
  const entries: Buffer[] = [];
  let p = directoryOffset;
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(p + 28);
    const extraLength = zip.readUInt16LE(p + 30);
    const commentLength = zip.readUInt16LE(p + 32);
    const header = Buffer.from(zip.subarray(p, p + 46));
    const name = zip.subarray(p + 46, p + 46 + nameLength);
    const extra = Buffer.alloc(4 + 24);
    extra.writeUInt16LE(0x0001, 0);
    extra.writeUInt16LE(24, 2);
    extra.writeBigUInt64LE(BigInt(header.readUInt32LE(24)), 4); // uncompressed size
    extra.writeBigUInt64LE(BigInt(header.readUInt32LE(20)), 12); // compressed size
    extra.writeBigUInt64LE(BigInt(header.readUInt32LE(42)), 20); // local header offset
    header.writeUInt32LE(0xffffffff, 20);
    header.writeUInt32LE(0xffffffff, 24);
    header.writeUInt32LE(0xffffffff, 42);
    header.writeUInt16LE(extra.length, 30);
    header.writeUInt16LE(0, 32);
    entries.push(header, name, extra);
    p += 46 + nameLength + extraLength + commentLength;
  }
  const directory = Buffer.concat(entries);
  const zip64End = Buffer.alloc(56);
  zip64End.writeUInt32LE(0x06064b50, 0);
  zip64End.writeBigUInt64LE(44n, 4);
  zip64End.writeUInt16LE(45, 12);
  zip64End.writeUInt16LE(45, 14);
  zip64End.writeBigUInt64LE(BigInt(count), 24);
  zip64End.writeBigUInt64LE(BigInt(count), 32);
  zip64End.writeBigUInt64LE(BigInt(directory.length), 40);
  zip64End.writeBigUInt64LE(BigInt(directoryOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(directoryOffset + directory.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([zip.subarray(0, directoryOffset), directory, zip64End, locator, end]);
}

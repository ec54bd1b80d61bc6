/**
 * A few reusable Float32Arrays per length. Batches of 16x224x224 clips are tens of megabytes;
 * allocating one per run makes V8 collect garbage for "external memory pressure" several times
 * a second, pausing the event loop each time. Buffers come back from the worker after each run.
 */
export class Float32Pool {
  private readonly free = new Map<number, Float32Array[]>();

  constructor(private readonly keepPerLength = 4) {}

  /** A buffer of exactly `length` values; its contents are whatever the last user left. */
  take(length: number): Float32Array {
    return this.free.get(length)?.pop() ?? new Float32Array(length);
  }

  give(buffer: Float32Array): void {
    const list = this.free.get(buffer.length) ?? [];
    if (list.length < this.keepPerLength) list.push(buffer);
    this.free.set(buffer.length, list);
  }
}

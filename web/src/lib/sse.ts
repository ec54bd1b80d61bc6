/**
 * An incremental Server-Sent Events parser (the text/event-stream format of GET /jobs/{id}/events):
 * fed chunks as they arrive, it returns the complete events. The page reads the stream with
 * fetch, not EventSource, because EventSource cannot send the Authorization header.
 */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

export class SseParser {
  private buffer = '';
  /** The last `retry:` value, milliseconds. */
  retryMs: number | undefined;

  /**
   * @example
   * const p = new SseParser();
   * p.feed('event: stage\ndata: {"st'); // []
   * p.feed('age":"probe"}\n\n');      // [{ event: 'stage', data: '{"stage":"probe"}' }]
   */
  feed(chunk: string): SseEvent[] {
    this.buffer += chunk.replace(/\r\n?/g, '\n');
    const events: SseEvent[] = [];
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const frame = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
        else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
      }
      if (data.length) events.push({ event, data: data.join('\n') });
    }
    return events;
  }
}

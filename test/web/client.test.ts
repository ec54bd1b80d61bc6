import { describe, expect, it } from 'vitest';
import { ApiError, apiErrorFrom, describeError } from '../../web/src/lib/errors.js';
import { formatEta, formatPercent, formatScore, formatTime } from '../../web/src/lib/format.js';
import { modelsForTask } from '../../web/src/lib/models.js';
import { SseParser } from '../../web/src/lib/sse.js';

describe('SseParser', () => {
  it('returns complete events only, keeping a partial frame for the next chunk', () => {
    const p = new SseParser();
    expect(p.feed('retry: 2000\n\n: keep-alive\n\nevent: stage\ndata: {"st')).toEqual([]);
    expect(p.retryMs).toBe(2000);
    expect(p.feed('age":"probe"}\n\nevent: progress\ndata: {"a":1}\n\n')).toEqual([
      { event: 'stage', data: '{"stage":"probe"}' },
      { event: 'progress', data: '{"a":1}' },
    ]);
  });

  it('joins data lines, reads CRLF and fields without a space, defaults the event name', () => {
    const p = new SseParser();
    expect(p.feed('data:one\r\ndata: two\r\n\r\nevent:failure\ndata: {}\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo' },
      { event: 'failure', data: '{}' },
    ]);
  });

  it('ignores a frame without data and a retry that is not a number', () => {
    const p = new SseParser();
    expect(p.feed('event: stage\n\nretry: soon\n\n')).toEqual([]);
    expect(p.retryMs).toBeUndefined();
  });
});

describe('apiErrorFrom', () => {
  it("reads the server's error body: status, code, message, parameter", () => {
    const e = apiErrorFrom(
      404,
      JSON.stringify({ error: { status: 404, code: 'model_not_found', message: "no model 'x'", parameter: 'model' } }),
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 404, code: 'model_not_found', message: "no model 'x'", parameter: 'model' });
    expect(describeError(e)).toBe("no model 'x' (model_not_found, HTTP 404)");
  });

  it('describes an answer that is not an error body by its status and text', () => {
    expect(apiErrorFrom(502, '<html>Bad gateway</html>')).toMatchObject({
      code: 'http_502',
      message: 'the server answered 502: <html>Bad gateway</html>',
    });
    expect(apiErrorFrom(500, '')).toMatchObject({ code: 'http_500', message: 'the server answered 500 with no body' });
    expect(apiErrorFrom(400, '{"error":{"code":1}}').code).toBe('http_400');
  });

  it('writes an error without a status (network, the page itself) without one', () => {
    expect(describeError(new ApiError(0, 'network_error', 'the server could not be reached'))).toBe(
      'the server could not be reached (network_error)',
    );
  });
});

describe('format', () => {
  it('writes times, estimates, scores and percentages', () => {
    expect(formatTime(75.25)).toBe('1:15.3');
    expect(formatTime(0)).toBe('0:00.0');
    expect(formatTime(3725)).toBe('1:02:05.0');
    expect(formatEta(3.2)).toBe('about 4 s left');
    expect(formatEta(125)).toBe('about 2 min 5 s left');
    expect(formatEta(undefined)).toBe('');
    expect(formatScore(0.41234)).toBe('0.412');
    expect(formatPercent(0.256)).toBe('26 %');
    expect(formatPercent(1.5)).toBe('100 %');
  });
});

describe('modelsForTask', () => {
  const model = (name: string, task: 'classification' | 'temporal-detection', numClasses: number, isDefault = false) => ({
    name,
    task,
    default: isDefault,
    architecture: { arch: 'vit', embedDim: 96, depth: 4, numHeads: 2, numClasses },
  });

  it('offers the models of the task, default first, and no features-only encoder for classification', () => {
    const models = [
      model('b', 'classification', 11),
      model('ava-backbone', 'classification', 0),
      model('a', 'classification', 5, true),
      model('t', 'temporal-detection', 7, true),
    ];
    expect(modelsForTask(models, 'classification').map((m) => m.name)).toEqual(['a', 'b']);
    expect(modelsForTask(models, 'temporal-detection').map((m) => m.name)).toEqual(['t']);
    expect(modelsForTask(models, 'spatiotemporal-detection')).toEqual([]);
  });
});

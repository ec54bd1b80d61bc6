/** config.pbtxt from a graph signature: when it batches, how dims lose the batch dim, and when it does not. */
import { describe, expect, it } from 'vitest';
import { batchDim, tritonConfig, type GraphSignature } from '../../src/onnx/triton-config.js';

const FLOAT = 1;
const INT64 = 7;

describe('tritonConfig', () => {
  it('batches on a symbolic first dim shared by every tensor; a tensor that is only that dim becomes [1] reshaped to []', () => {
    const signature: GraphSignature = {
      inputs: [{ name: 'x', elemType: FLOAT, dims: ['batch', 3, 'h'] }],
      outputs: [
        { name: 'y', elemType: FLOAT, dims: ['batch', 5] },
        { name: 'id', elemType: INT64, dims: ['batch'] },
      ],
    };
    expect(batchDim(signature)).toBe('batch');
    const { text, maxBatchSize } = tritonConfig(signature, { name: 'm', maxBatchSize: 16, comment: 'from test' });
    expect(maxBatchSize).toBe(16);
    expect(text).toBe(
      [
        '# from test',
        'name: "m"',
        'platform: "onnxruntime_onnx"',
        'max_batch_size: 16',
        'input [',
        '  {\n    name: "x"\n    data_type: TYPE_FP32\n    dims: [ 3, -1 ]\n  }',
        ']',
        'output [',
        '  {\n    name: "y"\n    data_type: TYPE_FP32\n    dims: [ 5 ]\n  },',
        '  {\n    name: "id"\n    data_type: TYPE_INT64\n    dims: [ 1 ]\n    reshape: { shape: [ ] }\n  }',
        ']',
        'dynamic_batching { }',
        '',
      ].join('\n'),
    );
  });

  it('does not batch when the first dims differ or are fixed', () => {
    const mixed: GraphSignature = {
      inputs: [
        { name: 'a', elemType: FLOAT, dims: ['n', 4] },
        { name: 'b', elemType: INT64, dims: [2] },
      ],
      outputs: [{ name: 'c', elemType: FLOAT, dims: ['n', 4] }],
    };
    expect(batchDim(mixed)).toBeUndefined();
    const { text, maxBatchSize } = tritonConfig(mixed, { name: 'm' });
    expect(maxBatchSize).toBe(0);
    expect(text).toContain('max_batch_size: 0\n');
    expect(text).toContain('dims: [ -1, 4 ]');
    expect(text).toContain('dims: [ 2 ]');
    expect(text).not.toContain('dynamic_batching');
  });

  it('refuses an element type Triton has no data_type for', () => {
    const signature: GraphSignature = { inputs: [{ name: 'z', elemType: 14, dims: [2] }], outputs: [] };
    expect(() => tritonConfig(signature, { name: 'm' })).toThrow(/element type 14/);
  });
});

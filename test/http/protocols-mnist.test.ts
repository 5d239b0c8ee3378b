import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Detector } from '../../src/detector/types.js';
import { FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';
import { mnistFixture, type MnistFixture } from './mnist-fixture.js';
import { fp32Bytes, oipClient } from './grpc-client.js';

/**
 * The protocols on the embedded mnist model: a held-out digit and a noise image, sent the way a
 * KServe or TF Serving client sends them, come back with the class and the outlier outputs, and
 * agree with POST /predict.
 */
describe('v2 infer and TF Serving :predict on the mnist model', () => {
  let mnist: MnistFixture;
  let detector: Detector;
  let app: FastifyInstance;
  let rows: number[][];

  before(async () => {
    mnist = await mnistFixture();
    ({ detector, rows } = mnist);
    app = await buildTestApp(new FakeHost(detector), { bodyLimitBytes: 1_000_000, grpc: { maxMessageBytes: 1_000_000 } });
  });
  after(async () => {
    await app?.close();
    await mnist?.dispose();
  });

  it('answers the same classes and outlier decisions over all three routes', async () => {
    const own = (await app.inject({ method: 'POST', url: '/predict', payload: { instances: rows } })).json() as {
      predictions: { label: string; outlier_score: number; is_outlier: boolean }[];
    };
    assert.deepEqual(own.predictions.map((p) => p.is_outlier), [false, true], 'a held-out digit passes, noise is flagged');

    const v2 = await app.inject({
      method: 'POST',
      url: '/v2/models/mnist/infer',
      payload: { id: 'digits', inputs: [{ name: 'pixels', shape: [2, 28, 28], datatype: 'FP32', data: rows.flat() }], outputs: [{ name: 'label' }, { name: 'outlier_score' }, { name: 'is_outlier' }, { name: 'in_class_neighbors' }] },
    });
    assert.equal(v2.statusCode, 200, v2.body);
    const body = v2.json() as { id: string; model_name: string; outputs: { name: string; shape: number[]; data: unknown[] }[] };
    assert.equal(body.id, 'digits');
    assert.equal(body.model_name, 'mnist');
    const out = Object.fromEntries(body.outputs.map((o) => [o.name, o]));
    assert.deepEqual(out.label.data, own.predictions.map((p) => p.label));
    assert.deepEqual(out.outlier_score.data, own.predictions.map((p) => p.outlier_score));
    assert.deepEqual(out.is_outlier.data, [false, true]);
    assert.deepEqual(out.in_class_neighbors.shape, [2, 4]);

    const tf = await app.inject({ method: 'POST', url: '/v1/models/mnist:predict', payload: { instances: rows } });
    assert.equal(tf.statusCode, 200, tf.body);
    const { predictions } = tf.json() as { predictions: { label: string; is_outlier: boolean; probabilities: number[] }[] };
    assert.deepEqual(predictions.map((p) => p.label), own.predictions.map((p) => p.label));
    assert.deepEqual(predictions.map((p) => p.is_outlier), [false, true]);
    assert.equal(predictions[0].probabilities.length, 10);
  });

  it('gives a gRPC client the same outlier scores as REST v2, with typed and with raw contents', async () => {
    const v2 = await app.inject({
      method: 'POST',
      url: '/v2/models/mnist/infer',
      payload: { inputs: [{ name: 'pixels', shape: [2, 28, 28], datatype: 'FP32', data: rows.flat() }], outputs: [{ name: 'outlier_score' }, { name: 'label' }] },
    });
    const rest = Object.fromEntries((v2.json() as { outputs: { name: string; data: unknown[] }[] }).outputs.map((o) => [o.name, o.data]));
    const client = oipClient(await (app.grpc as NonNullable<typeof app.grpc>).listen(0, '127.0.0.1'));
    try {
      const outputs = [{ name: 'outlier_score' }, { name: 'label' }];
      const input = { name: 'pixels', datatype: 'FP32', shape: [2, 28, 28] };
      const typed = await client.call('ModelInfer', { modelName: 'mnist', inputs: [{ ...input, contents: { fp32Contents: rows.flat() } }], outputs });
      const [score, label] = typed.outputs as { contents: { fp64Contents: number[]; bytesContents: Buffer[] } }[];
      assert.deepEqual(score.contents.fp64Contents, rest.outlier_score);
      assert.deepEqual(label.contents.bytesContents.map(String), rest.label);

      const raw = await client.call('ModelInfer', { modelName: 'mnist', inputs: [input], outputs, rawInputContents: [fp32Bytes(rows.flat())] });
      const [scores] = raw.rawOutputContents as Buffer[];
      assert.deepEqual([scores.readDoubleLE(0), scores.readDoubleLE(8)], rest.outlier_score);
    } finally {
      client.close();
    }
  });
});

import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { after, before, describe, it } from 'node:test';
import { craft, inputDomain, openAttackTarget, type AttackTarget } from '../../src/attack/craft.js';
import { AttackSpecSchema, runAttack, type AttackResult } from '../../src/attack/gradient-attack.js';
import { chooseGuides } from '../../src/attack/guides.js';
import { selectRows, type Matrix } from '../../src/math/matrix.js';
import { l2NormalizeRows } from '../../src/math/normalize.js';
import { initBackend } from '../../src/model/backend.js';

/**
 * The attacks against the embedded mnist model, on 200 of its test digits: each stays inside
 * its budget and the input domain, succeeds more often with a larger budget, and the adaptive
 * one really moves the indexed layers towards its guides.
 */
const ROWS = 200;

describe('gradient attacks on the embedded mnist model', () => {
  let target: AttackTarget;
  let x: Matrix;
  let labels: Int32Array;
  const results = new Map<string, AttackResult>();
  const attack = (spec: Parameters<typeof AttackSpecSchema.parse>[0]) => {
    const parsed = AttackSpecSchema.parse(spec);
    const key = JSON.stringify(parsed);
    if (!results.has(key)) results.set(key, runAttack(target.net, x, labels, parsed, { clip: [0, 1], seed: 3, reference: target.refset.train }));
    return results.get(key) as AttackResult;
  };

  before(async () => {
    await initBackend('wasm');
    target = await openAttackTarget('models', 'reference-sets', 'mnist');
    const rows = Int32Array.from({ length: ROWS }, (_, i) => i);
    x = selectRows(target.refset.test.x, rows);
    labels = target.refset.test.labels.subarray(0, ROWS);
  });
  after(() => target.dispose());

  it('attacks only the inputs the model gets right, and reports the share whose class changed', () => {
    const result = attack({ method: 'fgsm', eps: 0.1 });
    const before = target.net.predict(x.data as Float32Array, ROWS);
    const correct = Array.from(before).filter((p, i) => p === labels[i]).length;
    assert.equal(result.source.length, correct);
    for (const [i, s] of result.source.entries()) assert.equal(result.labels[i], labels[s]);
    const changed = Array.from(result.predicted).filter((p, i) => p !== result.labels[i]).length;
    assert.equal(result.successRate, changed / correct);
  });

  it('keeps every input inside its budget (linf and l2) and inside the input domain', () => {
    for (const spec of [
      { method: 'fgsm', eps: 0.1 },
      { method: 'pgd', eps: 0.05 },
      { method: 'pgd', eps: 1.5, norm: 'l2' },
      { method: 'adaptive', eps: 0.1 },
    ] as const) {
      const result = attack(spec);
      const original = selectRows(x, result.source).data;
      for (let r = 0; r < result.source.length; r++) {
        let linf = 0;
        let l2 = 0;
        for (let j = 0; j < target.net.inputSize; j++) {
          const v = result.adversarial[r * target.net.inputSize + j];
          assert.ok(v >= 0 && v <= 1, `${spec.method}: value ${v} outside [0, 1]`);
          const d = Math.abs(v - original[r * target.net.inputSize + j]);
          linf = Math.max(linf, d);
          l2 += d * d;
        }
        if (spec.norm === 'l2') assert.ok(Math.sqrt(l2) <= spec.eps + 1e-4, `l2 ${Math.sqrt(l2)}`);
        else assert.ok(linf <= spec.eps + 1e-6, `${spec.method}: linf ${linf}`);
      }
    }
  });

  it('succeeds more often with a larger budget, and PGD at least as often as FGSM', () => {
    const fgsm = [0.02, 0.1, 0.3].map((eps) => attack({ method: 'fgsm', eps }).successRate);
    assert.ok(fgsm[0] < fgsm[1] && fgsm[1] < fgsm[2], `FGSM success ${fgsm.join(', ')}`);
    assert.ok(fgsm[2] > 0.9, `FGSM at 0.3 changed only ${fgsm[2]}`);
    const pgd = attack({ method: 'pgd', eps: 0.05 }).successRate;
    assert.ok(pgd >= attack({ method: 'fgsm', eps: 0.05 }).successRate, `PGD ${pgd}`);
    // Random signs of the same size barely move this model: the gradient is what does the work.
    const noisy = tf.tidy(() => {
      const noise = tf.mul(tf.sign(tf.randomUniform([ROWS, target.net.inputSize], -1, 1, 'float32', 5)), 0.1);
      return tf.clipByValue(tf.add(tf.tensor2d(x.data as Float32Array, [ROWS, target.net.inputSize]), noise), 0, 1).dataSync() as Float32Array;
    });
    const randomChanged = Array.from(target.net.predict(noisy, ROWS)).filter((p, i) => p !== labels[i]).length / ROWS;
    assert.ok(randomChanged < fgsm[1] / 2, `random signs changed ${randomChanged}, FGSM ${fgsm[1]}`);
  });

  it('pulls every indexed layer towards its guides, which plain PGD does not', () => {
    const adaptive = attack({ method: 'adaptive', eps: 0.1 });
    const pgd = attack({ method: 'pgd', eps: 0.1 });
    assert.ok(adaptive.successRate > 0.8, `adaptive success ${adaptive.successRate}`);
    const guides = chooseGuides(target.net, selectRows(x, adaptive.source), adaptive.labels, target.refset.train);
    // The adaptive attack's classes are its targets; the guides are examples of them.
    const reached = Array.from(adaptive.predicted).filter((p, i) => p === guides.target[i]).length / adaptive.source.length;
    assert.ok(reached > 0.8, `reached the target class in ${reached}`);
    const distanceToGuides = (result: AttackResult) => {
      const layers = tf.tidy(() => target.net.forward(tf.tensor2d(result.adversarial, [result.source.length, target.net.inputSize])).layers.map((t) => ({ data: t.dataSync() as Float32Array, rows: t.shape[0], cols: t.shape[1] })));
      return layers.map((m, l) => {
        const unit = l2NormalizeRows(m);
        let sum = 0;
        for (let i = 0; i < unit.data.length; i++) sum += (unit.data[i] - guides.layers[l].data[i]) ** 2;
        return sum / m.rows;
      });
    };
    const adaptiveDistance = distanceToGuides(adaptive);
    const pgdDistance = distanceToGuides(pgd);
    adaptiveDistance.forEach((d, l) => assert.ok(d < pgdDistance[l], `layer ${l}: adaptive ${d}, pgd ${pgdDistance[l]}`));
  });

  it('crafts from a seeded sample of the test part, naming the rows it attacked', () => {
    const spec = AttackSpecSchema.parse({ method: 'fgsm', eps: 0.1 });
    const a = craft(target, spec, { limit: 50, seed: 11 });
    const b = craft(target, spec, { limit: 50, seed: 11 });
    assert.deepEqual(a.result.source, b.result.source);
    assert.ok(a.result.source.length > 40 && a.result.source.length <= 50);
    assert.deepEqual(a.origin.clip, inputDomain(target.refset.train.x));
    assert.deepEqual(a.origin.clip, [0, 1]);
    assert.ok(Math.max(...a.result.source) < target.refset.test.x.rows);
  });
});

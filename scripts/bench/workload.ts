import { createRng } from '../../src/math/random.js';
import { row } from '../../src/math/matrix.js';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';

export interface BodyOptions {
  /** Every noiseEvery-th instance (counting across bodies) is uniform noise instead of a digit; 0 or absent: none. */
  noiseEvery?: number;
  /** Seed of the noise, so a run sends the same bodies every time. */
  seed?: number;
}

/** Request bodies built from real MNIST test digits, serialised once before any timing. */
export interface Workload {
  /** Digits available (the reference set's test part). */
  digits: number;
  /** Bodies for `batch` instances each, consecutive digits, wrapping around (and noise, if asked). */
  bodies(batch: number, count: number, opts?: BodyOptions): string[];
}

export async function loadWorkload(referenceSetsDir: string, name: string): Promise<Workload> {
  const refset = await loadReferenceSet(referenceSetsDir, name);
  const { x } = refset.test;
  // Float32 -> number would print 0.149 as 0.14900000393390656; seven significant digits give
  // back the source's values and keep the body the size a real client would send.
  const rows: number[][] = [];
  for (let r = 0; r < x.rows; r++) {
    rows.push(Array.from(row(x, r), (v) => Number(v.toPrecision(7))));
  }
  return {
    digits: rows.length,
    bodies(batch, count, opts = {}) {
      const noiseEvery = opts.noiseEvery ?? 0;
      const random = createRng(opts.seed ?? 1);
      // Uniform noise in [0, 1], four decimals: as far from a digit as an input can be.
      const noise = () => Array.from({ length: x.cols }, () => Math.round(random() * 1e4) / 1e4);
      const out: string[] = [];
      let digit = 0;
      for (let i = 0; i < count; i++) {
        const instances = Array.from({ length: batch }, (_, j) => {
          if (noiseEvery > 0 && (i * batch + j + 1) % noiseEvery === 0) return noise();
          return rows[digit++ % rows.length];
        });
        out.push(JSON.stringify({ instances }));
      }
      return out;
    },
  };
}

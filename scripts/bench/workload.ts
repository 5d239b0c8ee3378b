import { loadReferenceSet } from '../../src/reference/load-reference-set.js';

/** Request bodies built from real MNIST test digits, serialised once before any timing. */
export interface Workload {
  /** Digits available (the reference set's test part). */
  digits: number;
  /** Bodies for `batch` instances each, consecutive digits, wrapping around. */
  bodies(batch: number, count: number): string[];
}

export async function loadWorkload(referenceSetsDir: string, name: string): Promise<Workload> {
  const refset = await loadReferenceSet(referenceSetsDir, name);
  const { x } = refset.test;
  // Float32 -> number would print 0.149 as 0.14900000393390656; seven significant digits give
  // back the source's values and keep the body the size a real client would send.
  const rows: number[][] = [];
  for (let r = 0; r < x.rows; r++) {
    rows.push(Array.from(x.data.subarray(r * x.cols, (r + 1) * x.cols), (v) => Number(v.toPrecision(7))));
  }
  return {
    digits: rows.length,
    bodies(batch, count) {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const instances = Array.from({ length: batch }, (_, j) => rows[(i * batch + j) % rows.length]);
        out.push(JSON.stringify({ instances }));
      }
      return out;
    },
  };
}

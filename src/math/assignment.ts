/**
 * The assignment problem: pair each of n rows with its own column of an n x n weight matrix so
 * that the paired weights sum to the most. Solved with the Hungarian algorithm in its O(n^3)
 * form (shortest augmenting paths with row and column potentials), so a few hundred classes take
 * milliseconds where trying every permutation would never end.
 */

/**
 * `assignment[row]` = the column paired with `row`, maximising the sum of `weights[row * n + column]`.
 * Weights must be finite. Whole-number weights give an exact optimum, since every step only adds
 * and subtracts them.
 */
export function maximumAssignment(weights: ArrayLike<number>, n: number): Int32Array {
  if (!Number.isInteger(n) || n < 0 || weights.length !== n * n) {
    throw new RangeError(`maximumAssignment: expected ${n} x ${n} = ${n * n} weights, got ${weights.length}`);
  }
  let largest = -Infinity;
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isFinite(weights[i])) throw new RangeError(`maximumAssignment: weight ${i} is ${weights[i]}`);
    if (weights[i] > largest) largest = weights[i];
  }
  // Costs that are never negative keep the potentials small; the optimum is the same.
  const cost = (r: number, c: number) => largest - weights[r * n + c];
  return minimumCostAssignment(cost, n);
}

/**
 * The classic formulation, 1-based inside: index 0 is a virtual column from which each new row's
 * augmenting path starts. `rowOf[column]` is the row a column is paired with (0: none yet).
 */
function minimumCostAssignment(cost: (row: number, column: number) => number, n: number): Int32Array {
  const rowPotential = new Float64Array(n + 1);
  const columnPotential = new Float64Array(n + 1);
  const rowOf = new Int32Array(n + 1);
  const previousColumn = new Int32Array(n + 1);
  const slack = new Float64Array(n + 1);
  const visited = new Uint8Array(n + 1);
  for (let row = 1; row <= n; row++) {
    rowOf[0] = row;
    let column = 0;
    slack.fill(Infinity);
    visited.fill(0);
    // Grow a tree of tight edges from the new row until it reaches a free column.
    do {
      visited[column] = 1;
      const from = rowOf[column];
      let delta = Infinity;
      let next = 0;
      for (let c = 1; c <= n; c++) {
        if (visited[c]) continue;
        const reduced = cost(from - 1, c - 1) - rowPotential[from] - columnPotential[c];
        if (reduced < slack[c]) {
          slack[c] = reduced;
          previousColumn[c] = column;
        }
        if (slack[c] < delta) {
          delta = slack[c];
          next = c;
        }
      }
      // Shift the potentials so that at least one more edge becomes tight.
      for (let c = 0; c <= n; c++) {
        if (visited[c]) {
          rowPotential[rowOf[c]] += delta;
          columnPotential[c] -= delta;
        } else {
          slack[c] -= delta;
        }
      }
      column = next;
    } while (rowOf[column] !== 0);
    // Flip the pairs along the path back to the virtual column.
    do {
      const before = previousColumn[column];
      rowOf[column] = rowOf[before];
      column = before;
    } while (column !== 0);
  }
  const assignment = new Int32Array(n);
  for (let c = 1; c <= n; c++) assignment[rowOf[c] - 1] = c - 1;
  return assignment;
}

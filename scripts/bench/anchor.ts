import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadReferenceSet } from '../../src/reference/load-reference-set.js';
import { atExit } from './cleanup.js';
import { httpRequest } from './http.js';
import { freePort } from './server.js';
import { progress } from './stats.js';

/** Debian's packages install here; a version manager's python3 on PATH may not see them. */
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const READY_TIMEOUT_MS = 5 * 60_000;

/** Why the anchor cannot run here, or undefined when it can. */
export function anchorUnavailable(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import fastapi, uvicorn, hnswlib, numpy'], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return `${PYTHON} lacks fastapi, uvicorn, hnswlib or numpy (apt-get install -y python3-fastapi python3-uvicorn python3-hnswlib python3-numpy)`;
}

/** A float32 or int32 .npy file, C order: all the anchor reads. */
function npy(values: Float32Array | Int32Array, shape: number[]): Buffer {
  const descr = values instanceof Float32Array ? '<f4' : '<i4';
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const header = dict.padEnd(Math.ceil((10 + dict.length + 1) / 64) * 64 - 11, ' ') + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, ...Buffer.from('NUMPY'), 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
}

/**
 * The Python anchor (scripts/bench/python_anchor.py) on a free loopback port, serving the same
 * model with the same reference and calibration rows as the service.
 */
export class AnchorProcess {
  private constructor(
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly dataDir: string,
    private readonly release: () => void,
  ) {}

  static async start(opts: { root: string; modelsDir: string; referenceSetsDir: string; model: string; k: number }): Promise<AnchorProcess> {
    const refset = await loadReferenceSet(join(opts.root, opts.referenceSetsDir), opts.model);
    const dataDir = await mkdtemp(join(tmpdir(), 'ood-anchor-'));
    const { train, calibration } = refset;
    await writeFile(join(dataDir, 'train_x.npy'), npy(train.x.data as Float32Array, [train.x.rows, train.x.cols]));
    await writeFile(join(dataDir, 'train_y.npy'), npy(train.labels, [train.labels.length]));
    await writeFile(join(dataDir, 'cal_x.npy'), npy(calibration.x.data as Float32Array, [calibration.x.rows, calibration.x.cols]));
    const port = await freePort();
    const child = spawn(
      PYTHON,
      [
        join(opts.root, 'scripts', 'bench', 'python_anchor.py'),
        '--model-dir', join(opts.root, opts.modelsDir, opts.model),
        '--data-dir', dataDir,
        '--port', String(port),
        '--k', String(opts.k),
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    const release = atExit(() => {
      child.kill('SIGKILL');
    });
    const anchor = new AnchorProcess(`http://127.0.0.1:${port}`, child, dataDir, release);
    progress(`python anchor: building its graphs (pid ${child.pid})`);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the Python anchor exited with code ${child.exitCode}`);
      const ok = await httpRequest(`${anchor.baseUrl}/readyz`, { timeoutMs: 1000 }).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) {
        await anchor.stop();
        throw new Error('the Python anchor did not become ready');
      }
      await sleep(100);
    }
    return anchor;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    this.release();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

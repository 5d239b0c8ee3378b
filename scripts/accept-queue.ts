/**
 * `npm run accept-queue`: where the slowest answers under overload wait. Drives a server with
 * autocannon (200 connections, 2,000 requests/s offered, 8 s) and samples the kernel's accept
 * queue of its listening socket (`ss`, Recv-Q of the LISTEN line) every 100 ms, for two servers:
 * a plain node:http server that spends 3 ms of CPU per request (about what the service spends on
 * one instance), and the service itself with OOD_MAX_EVENT_LOOP_DELAY_MS=200 (or as set in the
 * environment). Prints a markdown table. See docs/load.md.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runAutocannon } from './bench/autocannon-run.js';
import { freePort, ServerProcess } from './bench/server.js';
import { percentile } from './bench/stats.js';
import { table } from './bench/table.js';
import { loadWorkload } from './bench/workload.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONNECTIONS = 200;
const RATE = 2000;
const SECONDS = 8;

const PLAIN_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const end = performance.now() + 3;
    while (performance.now() < end) {}
    res.end('{}');
  });
}).listen(Number(process.argv[1]), '127.0.0.1');
`;

async function acceptQueue(port: number): Promise<number> {
  const { stdout } = await run('ss', ['-ltnH', `sport = :${port}`]);
  return Number(stdout.trim().split(/\s+/)[1] ?? Number.NaN);
}

interface Row {
  server: string;
  samples: number[];
  latencies: number[];
  answers: number;
  errors: number;
}

async function measure(server: string, baseUrl: string, port: number, bodies: string[]): Promise<Row> {
  const samples: number[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      samples.push(await acceptQueue(port));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const result = await runAutocannon(baseUrl, bodies, { connections: CONNECTIONS, overallRate: RATE, durationS: SECONDS, timeoutS: 20 });
  sampling = false;
  await sampler;
  const latencies = [...result.latencies.values()].flat().sort((a, b) => a - b);
  const errors = [...result.errorsByCode.values()].reduce((a, b) => a + b, 0);
  return { server, samples, latencies, answers: latencies.length, errors };
}

async function main(): Promise<void> {
  const workload = await loadWorkload('reference-sets', 'mnist');
  const bodies = workload.bodies(1, 200);
  const rows: Row[] = [];

  const plainPort = await freePort();
  const plain = spawn(process.execPath, ['-e', PLAIN_SERVER, String(plainPort)], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    rows.push(await measure('plain node:http, 3 ms per request', `http://127.0.0.1:${plainPort}`, plainPort, bodies));
  } finally {
    plain.kill();
  }

  const bound = process.env.OOD_MAX_EVENT_LOOP_DELAY_MS ?? '200';
  const { server } = await ServerProcess.start({ root: ROOT, cacheDir: '.cache', model: 'mnist', env: { OOD_MAX_EVENT_LOOP_DELAY_MS: bound } });
  try {
    const port = Number(new URL(server.baseUrl).port);
    rows.push(await measure(`ood-service, OOD_MAX_EVENT_LOOP_DELAY_MS=${bound}`, server.baseUrl, port, bodies));
  } finally {
    await server.stop();
  }

  const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : 'n/a');
  process.stdout.write(
    `# Accept queue under overload\n\n\`npm run accept-queue\`, ${new Date().toISOString()}: autocannon, ${CONNECTIONS} connections, ` +
      `${RATE} requests/s offered, ${SECONDS} s; the listening socket's accept queue sampled every 100 ms.\n\n`,
  );
  process.stdout.write(
    `${table(
      ['server', 'answers', 'errors', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'accept queue: max', 'samples with a queue', 'last queue at (s)'],
      rows.map((r) => {
        let lastQueued = -1;
        r.samples.forEach((q, i) => {
          if (q > 0) lastQueued = i;
        });
        return [
          r.server,
          r.answers,
          r.errors,
          ms(percentile(r.latencies, 50)),
          ms(percentile(r.latencies, 99)),
          ms(r.latencies.at(-1) ?? Number.NaN),
          Math.max(...r.samples),
          `${r.samples.filter((q) => q > 0).length} of ${r.samples.length}`,
          lastQueued < 0 ? 'never' : (lastQueued / 10).toFixed(1),
        ];
      }),
    ).join('\n')}\n`,
  );
}

await main();

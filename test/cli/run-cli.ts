import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The project root: the CLI resolves models/ and reference-sets/ against its working directory. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node --import tsx src/cli/ood.ts ...args` from the project root, as `npm run ood` does. */
export function runOod(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', 'src/cli/ood.ts', ...args], '', timeoutMs);
}

export function runProcess(command: string, args: string[], input: string, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

/**
 * The python3 interpreter's own path (a version-manager shim costs ~0.1 s a call), or null with
 * the reason when there is none: the Python-dependent tests then skip.
 */
export function findPython(): { executable: string | null; skip: string | false } {
  const probe = spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  const executable = probe.error || probe.status !== 0 ? '' : probe.stdout.trim();
  return executable
    ? { executable, skip: false }
    : { executable: null, skip: 'python3 is not installed: the independent SNNL reference cannot run' };
}

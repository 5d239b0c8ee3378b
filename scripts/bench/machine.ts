import os from 'node:os';
import { httpRequest } from './http.js';

export interface Machine {
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** As reported by the running server's GET /models/default. */
  serverBackend: string;
}

export async function describeMachine(baseUrl: string): Promise<Machine> {
  const cpus = os.cpus();
  let serverBackend = 'unknown';
  const res = await httpRequest(`${baseUrl}/models/default`);
  if (res.status === 200) serverBackend = String((JSON.parse(res.body) as { backend?: unknown }).backend ?? 'unknown');
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    memoryGiB: os.totalmem() / 2 ** 30,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    serverBackend,
  };
}

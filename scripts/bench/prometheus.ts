import { httpRequest } from './http.js';

/**
 * The samples of a Prometheus text exposition, by series name: a plain series maps to one value,
 * a labelled one to the sum over its label sets (enough for the counters and gauges read here).
 */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    out.set(m[1], (out.get(m[1]) ?? 0) + value);
  }
  return out;
}

/** One sample of a series (with its exact label set, e.g. `{route="/predict",status_code="503"}`). */
export function seriesValue(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const m = /^[^{]+\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const have = new Map([...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]] as const));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[2]);
  }
  return sum;
}

/** GET /metrics; throws unless it answers 200. */
export async function scrapeMetrics(baseUrl: string, timeoutMs = 10_000): Promise<string> {
  const res = await httpRequest(`${baseUrl}/metrics`, { timeoutMs });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.body;
}

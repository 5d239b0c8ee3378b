/**
 * Writes deploy/kubernetes/base/prometheusrule.yaml from deploy/prometheus/alerts.yml: the
 * Prometheus Operator's PrometheusRule holds the very same groups under `spec`, so the file is
 * the rules file indented under a header, comments and all. test/deploy/kubernetes.test.ts fails
 * when the committed file differs from what this writes, so the two never drift apart.
 *
 *   npm run gen:k8s-rules
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../src/atomic-write.js';

export const ALERTS_FILE = join('deploy', 'prometheus', 'alerts.yml');
export const PROMETHEUS_RULE_FILE = join('deploy', 'kubernetes', 'base', 'prometheusrule.yaml');

export function prometheusRule(alerts: string): string {
  const header = [
    '# Generated from deploy/prometheus/alerts.yml by `npm run gen:k8s-rules`; do not edit.',
    'apiVersion: monitoring.coreos.com/v1',
    'kind: PrometheusRule',
    'metadata:',
    '  name: ood-service',
    'spec:',
  ];
  const body = alerts
    .trimEnd()
    .split('\n')
    .map((line) => (line === '' ? '' : `  ${line}`));
  return `${[...header, ...body].join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await writeFileAtomic(PROMETHEUS_RULE_FILE, prometheusRule(readFileSync(ALERTS_FILE, 'utf8')));
  process.stdout.write(`wrote ${PROMETHEUS_RULE_FILE}\n`);
}

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { FakeDetector, FakeHost } from './fake-detector.js';
import { buildTestApp } from './helpers.js';

const MARKER = 'PRIVATE-PAYLOAD-7c1e';

describe('request logging', () => {
  it('never writes a request body, or a token, to the log, whatever the error', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const app = await buildTestApp(new FakeHost(new FakeDetector()), {
      apiTokens: ['token-abc'],
      logger: { level: 'trace', stream },
    });
    const auth = { authorization: 'Bearer token-abc' };
    const json = { ...auth, 'content-type': 'application/json' };
    try {
      const requests = [
        { headers: json, payload: `{"instances": [[1, 2, "${MARKER}"` },
        { headers: json, payload: `${MARKER}` },
        { headers: json, payload: JSON.stringify({ instances: [[MARKER, 0, 0, 0]] }) },
        { headers: json, payload: JSON.stringify({ instances: [[1, 0, 0, 0]], include_neighbors: MARKER }) },
        { headers: json, payload: JSON.stringify({ [MARKER]: 1 }) },
        { headers: { ...auth, 'content-type': 'text/plain' }, payload: MARKER },
        { headers: { 'content-type': 'application/json', authorization: `Bearer ${MARKER}` }, payload: '{}' },
        { headers: json, payload: JSON.stringify({ instances: [[0.25, 0, 0, 0]] }) },
      ];
      for (const { headers, payload } of requests) {
        const res = await app.inject({ method: 'POST', url: '/predict', headers, payload });
        assert.ok(res.statusCode < 500, res.body);
      }
    } finally {
      await app.close();
    }
    const log = lines.join('');
    assert.ok(lines.length >= 16, 'the requests were logged');
    assert.ok(!log.includes(MARKER), log.split('\n').filter((l) => l.includes(MARKER)).join('\n'));
    assert.ok(!log.includes('token-abc'));
    assert.ok(!log.includes('0.25'), 'not even a valid body');
  });
});

// A bounded, seeded slice of the fuzz campaign (`npm run fuzz -- wire --seconds N` runs more).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzWire } from '../../fuzz/wire.ts';

test('fuzz slice: no decoder throws, hangs or allocates past its limits', () => {
  const reports = fuzzWire({ seconds: 0, iterations: 1500, seed: 20261124 });
  for (const r of reports) {
    assert.equal(r.tried, 1500, r.target);
    assert.deepEqual(r.failures, [], `${r.target}: ${JSON.stringify(r.failures.slice(0, 3))}`);
  }
});

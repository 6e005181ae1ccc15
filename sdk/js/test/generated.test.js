// The SDK's types and the Postman collection match the server's current OpenAPI document.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { COLLECTION, SCHEMA_TYPES, collection, openapi, requestsOf, schemaTypes } from '../../generate.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const document = openapi();
const STALE = 'run `npm run generate` and commit the result';

test('schema.d.ts is the current document', async () => {
  assert.equal(readFileSync(SCHEMA_TYPES, 'utf8'), await schemaTypes(document), STALE);
});

test('the SDK type-checks against it (tsc --checkJs)', () => {
  const tsc = join(HERE, '../../../node_modules/.bin/tsc');
  execFileSync(tsc, ['-p', join(HERE, '../tsconfig.json'), '--noEmit'], { stdio: 'inherit' });
});

test('the Postman collection is the current document, every operation once', async () => {
  const fresh = await collection(document);
  assert.deepEqual(requestsOf(JSON.parse(readFileSync(COLLECTION, 'utf8'))), requestsOf(fresh), STALE);
  const operations = Object.values(document.paths).flatMap((methods) => Object.keys(methods));
  const requests = fresh.item.flatMap((folder) => folder.item.map((item) => `${item.request.method} ${item.name}`));
  assert.equal(new Set(requests).size, operations.length);
  assert.equal(requests[0], 'POST Get authentication tokens'); // first: the others use the token it stores
});

test("the README's example is the API documentation's WebSocket example, on the SDK", () => {
  const readme = readFileSync(join(HERE, '../README.md'), 'utf8');
  // The spec's snippet, line for line, after its connection is made by the SDK.
  for (const line of [
    "ws.on('message', (data) => {",
    '  const event = JSON.parse(data);',
    "  console.log('Event:', event.type, event.data);",
    '});',
  ]) {
    assert.ok(readme.includes(`\n${line}\n`), `the README lacks: ${line}`);
  }
  assert.ok(readme.includes('const ws = await client.connect();'));
});

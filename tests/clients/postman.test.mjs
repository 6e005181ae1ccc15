// The Postman collection (sdk/postman), run by newman against a live server: it logs in, stores
// the token, and calls every operation; each answers one of its documented statuses, errors in the
// API's format. (That the server serves it: tests/ncrsh_site/test_console.py.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import newman from 'newman';

import { ADMIN, ROOT, startServer } from './server.mjs';

const COLLECTION = join(ROOT, 'sdk/postman/postman-collection.json');

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
before(async () => {
  server = await startServer();
});
after(async () => server?.stop());

test('newman runs the whole collection with no failure', { timeout: 300_000 }, async () => {
  const summary = await new Promise((resolve, reject) => {
    newman.run(
      {
        collection: COLLECTION,
        envVar: [
          { key: 'baseUrl', value: server.url },
          { key: 'username', value: ADMIN.username },
          { key: 'password', value: ADMIN.password },
        ],
        reporters: ['cli'],
        timeoutRequest: 60_000,
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
  });
  const { stats, failures, executions } = summary.run;
  const detail = failures.map((f) => `${f.source?.name}: ${f.error.message}`).join('\n');
  assert.equal(failures.length, 0, detail);
  const operations = JSON.parse(readFileSync(COLLECTION, 'utf8')).item.flatMap((folder) => folder.item).length;
  assert.equal(stats.requests.total, operations);
  assert.equal(stats.assertions.failed, 0);
  assert.ok(stats.assertions.total >= operations + 1);
  const login = executions[0];
  assert.equal(login.request.url.getPath(), '/api/v1/auth/login');
  assert.equal(login.response.code, 200);
  const refused = executions.filter((e) => e.response.code === 401 && !e.request.url.getPath().includes('/auth/'));
  assert.deepEqual(refused.map((e) => e.item.name), [], 'requests that went without the stored token');
});

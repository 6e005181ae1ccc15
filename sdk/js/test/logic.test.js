// The SDK's logic without a server: error mapping, 429 retries, token renewal, download checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ConnectionFailed,
  DownloadCorrupt,
  ModelCorrupt,
  NodeNotFound,
  PermissionDenied,
  RateLimited,
  ServerError,
  SwarmClient,
  SwarmError,
  errorFor,
} from '../src/index.js';

/**
 * A fetch answering from `answers` in turn, recording each request.
 * @param {Array<() => Response>} answers
 */
function scripted(answers) {
  /** @type {Array<{url: string, init: RequestInit}>} */
  const seen = [];
  /** @type {typeof fetch} */
  const fetch = async (url, init = {}) => {
    seen.push({ url: String(url), init });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    return next();
  };
  return { fetch, seen };
}

const json = (status, body, headers = {}) => () =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

test('errors map by code first, then by status', () => {
  const missing = errorFor(404, { error: { code: 1001, message: 'NODE_NOT_FOUND', detail: 'node_x' } });
  assert.ok(missing instanceof NodeNotFound);
  assert.deepEqual([missing.code, missing.status, missing.detail], [1001, 404, 'node_x']);
  const corrupt = errorFor(422, { error: { code: 1004, message: 'MODEL_CORRUPT', detail: 'bad' } });
  assert.ok(corrupt instanceof ModelCorrupt);
  const denied = errorFor(403, { error: { code: 403, message: 'PERMISSION_DENIED', detail: 'staff only' } });
  assert.ok(denied instanceof PermissionDenied);
  const proxy = errorFor(502, '<html>bad gateway</html>');
  assert.ok(proxy instanceof ServerError);
  assert.equal(proxy.code, 502);
  const odd = errorFor(418, { error: { code: 418, message: 'TEAPOT', detail: '' } });
  assert.equal(odd.constructor, SwarmError);
  assert.equal(odd.errorName, 'TEAPOT');
});

test('a 429 is retried after its Retry-After, then raised with it', async () => {
  const limited = json(429, { error: { code: 429, message: 'RATE_LIMITED', detail: 'slow down' } }, { 'Retry-After': '0' });
  const { fetch, seen } = scripted([limited, json(200, { nodes: [], total: 0, active: 0 })]);
  const client = new SwarmClient({ baseUrl: 'http://swarm.test', authToken: 't', fetch });
  assert.deepEqual((await client.nodes.list({ limit: 5 })).total, 0);
  assert.equal(seen.length, 2);
  assert.equal(seen[0].url, 'http://swarm.test/api/v1/nodes?limit=5');
  assert.equal(/** @type {Record<string, string>} */ (seen[0].init.headers).Authorization, 'Bearer t');

  const always = scripted([limited, limited, limited]);
  const giving = new SwarmClient({ baseUrl: 'http://swarm.test', maxRetries: 2, fetch: always.fetch });
  await assert.rejects(giving.nodes.list(), (error) => error instanceof RateLimited && error.retryAfter === 0);
  assert.equal(always.seen.length, 3);
});

test('a 401 renews the tokens once and retries; onTokens hears the new pair', async () => {
  const expired = json(401, { error: { code: 401, message: 'NOT_AUTHENTICATED', detail: 'expired' } });
  const pair = { access: 'new-access', refresh: 'new-refresh', expires_in: 900, token_type: 'Bearer' };
  const { fetch, seen } = scripted([expired, json(200, pair), json(200, { nodes: [], total: 0, active: 0 })]);
  const stored = [];
  const client = new SwarmClient({ authToken: 'old', refreshToken: 'r', fetch, onTokens: (t) => stored.push(t) });
  await client.nodes.list();
  assert.deepEqual(stored, [pair]);
  assert.equal(JSON.parse(String(seen[1].init.body)).refresh, 'r');
  assert.equal(/** @type {Record<string, string>} */ (seen[2].init.headers).Authorization, 'Bearer new-access');

  const twice = scripted([expired, json(200, pair), expired]); // renewed, still refused: no loop
  const stubborn = new SwarmClient({ authToken: 'old', refreshToken: 'r', fetch: twice.fetch });
  await assert.rejects(stubborn.nodes.list(), (error) => /** @type {SwarmError} */ (error).status === 401);
  assert.equal(twice.seen.length, 3);

  // A refused login is the answer, not a reason to renew the tokens.
  const refused = scripted([expired]);
  const signing = new SwarmClient({ authToken: 'old', refreshToken: 'r', fetch: refused.fetch });
  await assert.rejects(signing.request('POST', 'auth/login', { json: { username: 'a', password: 'b' } }));
  assert.equal(refused.seen.length, 1);
});

test('a download whose bytes do not match the announced sha256 is refused', async () => {
  const bytes = new TextEncoder().encode('checkpoint bytes');
  const wrong = '0'.repeat(64);
  const answer = () => new Response(bytes, { status: 200, headers: { ETag: `"${wrong}"`, 'Content-Length': '16' } });
  const client = new SwarmClient({ fetch: scripted([answer]).fetch });
  await assert.rejects(client.models.download('model_x'), DownloadCorrupt);

  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  const right = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  const good = () => new Response(bytes, { status: 200, headers: { ETag: `"${right}"` } });
  const ok = await new SwarmClient({ fetch: scripted([good]).fetch }).models.download('model_x');
  assert.equal(ok.sha256, right);
  assert.equal(ok.filename, 'model_x.safetensors');
});

test('an unreachable server is a ConnectionFailed', async () => {
  const client = new SwarmClient({ baseUrl: 'http://127.0.0.1:9' });
  await assert.rejects(client.nodes.list(), ConnectionFailed);
  await assert.rejects(client.connect(), ConnectionFailed);
});

// The SDK against a real server (embedded: two local nodes), started by this test.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  AuthenticationError,
  NodeNotFound,
  NotFound,
  SwarmClient,
  TrainingInProgress,
  ValidationError,
} from '../src/index.js';
import { ADMIN, poll, startServer } from '../../../tests/clients/server.mjs';

const QUICK = { dataset: 'builtin:pystdlib', model_config: { preset: 'tiny' }, batch_size: 8, log_every: 5 };

describe('the SDK on a live server', { timeout: 600_000 }, () => {
  /** @type {Awaited<ReturnType<typeof startServer>>} */
  let server;
  /** @type {SwarmClient} */
  let client;

  before(async () => {
    server = await startServer();
    client = await SwarmClient.login(server.url, ADMIN.username, ADMIN.password);
  });
  after(async () => server?.stop());

  test('a wrong password is an AuthenticationError', async () => {
    await assert.rejects(SwarmClient.login(server.url, ADMIN.username, 'wrong'), AuthenticationError);
  });

  test('nodes: the embedded swarm, and a missing node by its code', async () => {
    const nodes = await client.nodes.list();
    assert.equal(nodes.total, 2);
    assert.equal(nodes.active, 2);
    const one = await client.nodes.get(nodes.nodes[0].id);
    assert.equal(one.id, nodes.nodes[0].id);
    const active = await client.nodes.list({ status: ['active', 'training'], limit: 1 });
    assert.equal(active.nodes.length, 1);
    await assert.rejects(client.nodes.get('node_missing'), (error) => {
      assert.ok(error instanceof NodeNotFound);
      assert.equal(error.code, 1001);
      assert.equal(error.status, 404);
      assert.equal(error.errorName, 'NODE_NOT_FOUND');
      return true;
    });
  });

  test('bad input is a ValidationError naming the field', async () => {
    await assert.rejects(client.training.start({ ...QUICK, batch_size: -1 }), (error) => {
      assert.ok(error instanceof ValidationError);
      assert.ok('batch_size' in /** @type {object} */ (error.detail));
      return true;
    });
  });

  test('refresh: a new pair, and the old refresh token is spent', async () => {
    const oldRefresh = client.refreshToken;
    const seen = [];
    client.onTokens = (tokens) => seen.push(tokens);
    const tokens = await client.refresh();
    assert.notEqual(tokens.refresh, oldRefresh);
    assert.deepEqual(seen, [tokens]);
    const stale = new SwarmClient({ baseUrl: server.url, refreshToken: oldRefresh });
    await assert.rejects(stale.refresh(), AuthenticationError);
    // An expired or bad access token is renewed with the refresh token, once.
    const renewing = new SwarmClient({ baseUrl: server.url, authToken: 'not-a-token', refreshToken: tokens.refresh });
    client.refreshToken = undefined; // its refresh token now belongs to `renewing`
    assert.equal((await renewing.nodes.list()).total, 2);
    assert.notEqual(renewing.authToken, 'not-a-token');
  });

  test('a session: events as the spec reads them, progress, an operator vote, stop, a verified download', async () => {
    // The spec's WebSocket example, through the SDK: each message is the event's JSON text.
    const ws = await client.connect();
    /** @type {Array<{type: string, data: any}>} */
    const events = [];
    ws.on('message', (data) => {
      const event = JSON.parse(data);
      events.push(event);
    });

    const started = await client.training.start({
      ...QUICK,
      local_steps: 10,
      max_steps: 20,
      deadline_s: 120,
      require_operator_approval: true,
    });
    assert.equal(started.status, 'running');
    const sessionId = started.session_id;
    await assert.rejects(client.training.start(QUICK), TrainingInProgress);

    /** @type {any[]} */
    const reports = [];
    for await (const progress of client.training.streamProgress({ sessionId })) {
      reports.push(progress);
      if (reports.length === 2) break;
    }
    assert.ok(reports.every((p) => p.session_id === sessionId && Number.isFinite(p.progress.loss)));

    // The round waits for the operator: approve every proposal.
    const open = await poll(() => client.consensus.status(), (s) => s.phase === 'voting' && s.proposals.length === 2, {
      what: 'the round to wait for the operator',
    });
    assert.equal(open.require_operator_approval, true);
    for (const proposal of open.proposals) {
      const vote = await client.consensus.vote({ proposal_id: proposal.proposal_id, approve: true, reason: 'looks fine' });
      assert.equal(vote.vote.voter, `operator:${ADMIN.username}`);
    }
    const history = await poll(() => client.consensus.history({ sessionId }), (h) => h.total >= 1, {
      what: 'the first decision',
    });
    assert.equal(history.decisions.at(-1).committed, true);
    await assert.rejects(client.consensus.vote({ proposal_id: 'proposal_missing', approve: true }), NotFound);

    const stopping = await client.training.stop();
    assert.ok(['stopping', 'stopped', 'completed'].includes(stopping.status));
    const session = await poll(() => client.training.session(sessionId), (s) => ['stopped', 'completed'].includes(s.status), {
      what: 'the session to end',
    });
    assert.ok(session.final_model);

    const types = new Set(events.map((e) => e.type));
    for (const type of ['training_started', 'training_progress', 'consensus_vote', 'training_stopped']) {
      assert.ok(types.has(type), `no ${type} event in ${[...types]}`);
    }
    ws.close();

    const { models } = await client.models.list({ sessionId });
    const model = models.find((m) => m.id === session.final_model);
    assert.ok(model, `${session.final_model} not listed`);
    const progress = [];
    const download = await client.models.download(model.id, { onProgress: (done) => progress.push(done) });
    assert.equal(download.sha256, model.sha256);
    assert.equal(download.data.byteLength, progress.at(-1));
    const archive = await client.models.export(model.id);
    assert.equal(new TextDecoder().decode(archive.subarray(257, 262)), 'ustar'); // a tar archive
  });

  test('network and consensus reads', async () => {
    const topology = await client.network.topology();
    assert.ok(Array.isArray(topology.nodes));
    const metrics = await client.network.metrics({ limit: 1 });
    assert.ok(metrics.nodes.length <= 1);
    const discovered = await client.network.discover();
    assert.ok(typeof discovered === 'object');
    const status = await client.consensus.status();
    assert.ok(status.session_id);
  });
});

// The API's resources, as client.nodes, client.training, client.models, client.datasets,
// client.network and client.consensus. Each method answers the operation's JSON as the OpenAPI
// document describes it (types in schema.d.ts, generated from that document).

import { DownloadCorrupt } from './errors.js';

/**
 * @template {keyof import('./schema.js').components['schemas']} K
 * @typedef {import('./schema.js').components['schemas'][K]} Schema
 */
/** @typedef {{limit?: number, offset?: number}} Page */

export const FINISHED = ['stopped', 'completed', 'failed'];

/** @param {Record<string, unknown>} body the fields the caller set: the server's defaults apply to the others */
function present(body) {
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined && value !== null));
}

/** @param {Uint8Array<ArrayBuffer>} bytes */
async function sha256(bytes) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The body, read chunk by chunk with `onProgress(bytesSoFar, total)`.
 * @param {Response} response
 * @param {((done: number, total: number | null) => void) | undefined} onProgress
 */
async function readAll(response, onProgress) {
  const total = response.headers.has('Content-Length') ? Number(response.headers.get('Content-Length')) : null;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  /** @type {Uint8Array[]} */
  const chunks = [];
  let done = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { value, done: finished } = await reader.read();
    if (finished) break;
    chunks.push(value);
    done += value.byteLength;
    onProgress?.(done, total);
  }
  const bytes = new Uint8Array(done);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

class Resource {
  /** @param {import('./client.js').SwarmClient} client */
  constructor(client) {
    this.client = client;
  }
}

export class Nodes extends Resource {
  /**
   * Nodes, optionally of some statuses ('active' or ['active', 'training']).
   * @param {Page & {status?: string | string[]}} [query]
   * @returns {Promise<Schema<'NodeListOutput'>>}
   */
  list({ status, limit, offset } = {}) {
    const statuses = Array.isArray(status) ? status.join(',') : status;
    return this.client.request('GET', 'nodes', { params: { status: statuses, limit, offset } });
  }

  /**
   * @param {string} nodeId
   * @returns {Promise<Schema<'NodeDetailOutput'>>}
   */
  get(nodeId) {
    return this.client.request('GET', `nodes/${encodeURIComponent(nodeId)}`);
  }

  /**
   * A pending node for `ncrsh worker --node <id>` to claim (staff only).
   * @param {Schema<'NodeConfigRequest'>} [config]
   * @returns {Promise<Schema<'NodeOutput'>>}
   */
  create(config) {
    return this.client.request('POST', 'nodes', { json: config ? { config } : {} });
  }

  /** @param {string} nodeId */
  async delete(nodeId) {
    await this.client.request('DELETE', `nodes/${encodeURIComponent(nodeId)}`);
  }
}

export class Training extends Resource {
  /**
   * Start a session (staff only): `dataset` and the API's other fields (epochs, batch_size,
   * learning_rate, nodes, strategy, model_config, max_steps, local_steps, aggregator, quorum, …).
   * @param {Schema<'TrainingStartInputRequest'>} options
   * @returns {Promise<Schema<'TrainingStatus'>>}
   */
  start(options) {
    return this.client.request('POST', 'training/start', { json: present(options) });
  }

  /**
   * The running session, else the last one.
   * @returns {Promise<Schema<'TrainingStatus'>>}
   */
  status() {
    return this.client.request('GET', 'training/status');
  }

  /**
   * Every node stops after its current step; the final model is saved (staff only).
   * @returns {Promise<Schema<'TrainingStatus'>>}
   */
  stop() {
    return this.client.request('POST', 'training/stop');
  }

  /**
   * A page of the sessions, newest first, of one status or any.
   * @param {Page & {status?: string}} [query]
   * @returns {Promise<Schema<'SessionList'>>}
   */
  sessions({ status, limit, offset } = {}) {
    return this.client.request('GET', 'training/sessions', { params: { status, limit, offset } });
  }

  /**
   * @param {string} sessionId
   * @returns {Promise<Schema<'SessionDetail'>>}
   */
  session(sessionId) {
    return this.client.request('GET', `training/sessions/${encodeURIComponent(sessionId)}`);
  }

  /**
   * Each progress report of the session (default: the running one) as it happens, from the
   * event feed; ends when the session ends (at once if it has already).
   * @param {{sessionId?: string}} [options]
   * @returns {AsyncGenerator<Schema<'TrainingProgressEvent'>['data']>}
   */
  async *streamProgress({ sessionId } = {}) {
    const feed = await this.client.connect({ types: ['training_progress', 'training_stopped'] });
    try {
      // Subscribed first, then asked: nothing that happens in between is missed.
      let session = sessionId;
      let finished;
      if (session === undefined) {
        const current = await this.status();
        session = current.session_id;
        finished = FINISHED.includes(current.status);
      } else {
        finished = FINISHED.includes((await this.session(session)).status);
      }
      if (finished) return;
      for await (const event of feed) {
        if (/** @type {{session_id?: string}} */ (event.data).session_id !== session) continue;
        if (event.type === 'training_stopped') return;
        yield /** @type {Schema<'TrainingProgressEvent'>} */ (event).data;
      }
    } finally {
      feed.close();
    }
  }
}

export class Datasets extends Resource {
  /**
   * A page of the prepared datasets.
   * @param {Page} [query]
   * @returns {Promise<Schema<'DatasetList'>>}
   */
  list({ limit, offset } = {}) {
    return this.client.request('GET', 'datasets', { params: { limit, offset } });
  }

  /**
   * @param {string} name
   * @returns {Promise<Schema<'Dataset'>>}
   */
  get(name) {
    return this.client.request('GET', `datasets/${encodeURIComponent(name)}`);
  }

  /**
   * Have a worker tokenise `source` into the dataset `name` (staff only); answers at once.
   * @param {Schema<'DatasetPrepareInputRequest'>} options
   * @returns {Promise<Schema<'Dataset'>>}
   */
  prepare(options) {
    return this.client.request('POST', 'datasets', { json: present(options) });
  }
}

/**
 * @typedef {object} Download
 * @property {Uint8Array} data the checkpoint's bytes (safetensors)
 * @property {string} sha256 hex, as verified
 * @property {string} filename
 */

export class Models extends Resource {
  /**
   * A page of the checkpoints, newest first, of one session or all.
   * @param {Page & {sessionId?: string}} [query]
   * @returns {Promise<Schema<'CheckpointList'>>}
   */
  list({ sessionId, limit, offset } = {}) {
    return this.client.request('GET', 'models', { params: { session: sessionId, limit, offset } });
  }

  /**
   * Register the running (or last) session's current global model (staff only).
   * @param {string} [sessionId]
   * @returns {Promise<Schema<'Checkpoint'>>}
   */
  save(sessionId) {
    return this.client.request('POST', 'models/save', { json: sessionId ? { session_id: sessionId } : {} });
  }

  /**
   * Verify the checkpoint and make it the next session's starting weights (staff only).
   * @param {string} modelId
   * @returns {Promise<Schema<'Checkpoint'>>}
   */
  load(modelId) {
    return this.client.request('POST', 'models/load', { json: { model_id: modelId } });
  }

  /**
   * The checkpoint's bytes, checked against the sha256 the server announced (its ETag):
   * DownloadCorrupt when they differ.
   * @param {string} modelId
   * @param {{onProgress?: (done: number, total: number | null) => void, signal?: AbortSignal}} [options]
   * @returns {Promise<Download>}
   */
  async download(modelId, { onProgress, signal } = {}) {
    const response = await this.client.raw('GET', `models/${encodeURIComponent(modelId)}/download`, { signal });
    const expected = (response.headers.get('ETag') ?? '').replaceAll('"', '');
    const data = await readAll(response, onProgress);
    const actual = await sha256(data);
    if (expected && actual !== expected) {
      throw new DownloadCorrupt(`${modelId}: sha256 ${actual}, the server announced ${expected}`);
    }
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const filename = /filename="?([^";]+)"?/.exec(disposition)?.[1] ?? `${modelId}.safetensors`;
    return { data, sha256: actual, filename };
  }

  /**
   * The model as a Hugging Face folder, packed as a tar archive (`transformers` loads the folder
   * with AutoModelForCausalLM.from_pretrained).
   * @param {string} modelId
   * @param {{format?: 'hf', onProgress?: (done: number, total: number | null) => void, signal?: AbortSignal}} [options]
   * @returns {Promise<Uint8Array>}
   */
  async export(modelId, { format = 'hf', onProgress, signal } = {}) {
    const path = `models/${encodeURIComponent(modelId)}/export`;
    return readAll(await this.client.raw('GET', path, { params: { format }, signal }), onProgress);
  }

  /**
   * What the model writes after `prompt` (the server runs it).
   * @param {string} modelId
   * @param {Partial<Schema<'GenerateInputRequest'>>} [options]
   * @returns {Promise<Schema<'GenerateOutput'>>}
   */
  generate(modelId, options = {}) {
    return this.client.request('POST', `models/${encodeURIComponent(modelId)}/generate`, { json: present(options) });
  }
}

export class Network extends Resource {
  /**
   * The session's exchange over a page of the nodes.
   * @param {Page & {sessionId?: string}} [query]
   * @returns {Promise<Schema<'Topology'>>}
   */
  topology({ sessionId, limit, offset } = {}) {
    return this.client.request('GET', 'network/topology', { params: { session: sessionId, limit, offset } });
  }

  /**
   * Ping the fleet; silent nodes turn offline (staff only).
   * @returns {Promise<Schema<'DiscoverOutput'>>}
   */
  discover() {
    return this.client.request('POST', 'network/discover');
  }

  /**
   * A page of the nodes' exchange figures, with totals over all of them.
   * @param {Page & {sessionId?: string}} [query]
   * @returns {Promise<Schema<'NetworkMetrics'>>}
   */
  metrics({ sessionId, limit, offset } = {}) {
    return this.client.request('GET', 'network/metrics', { params: { session: sessionId, limit, offset } });
  }
}

export class Consensus extends Resource {
  /** @returns {Promise<Schema<'ConsensusStatus'>>} */
  status() {
    return this.client.request('GET', 'consensus/status');
  }

  /**
   * @param {Page & {sessionId?: string}} [query]
   * @returns {Promise<Schema<'History'>>}
   */
  history({ sessionId, limit, offset } = {}) {
    return this.client.request('GET', 'consensus/history', { params: { session: sessionId, limit, offset } });
  }

  /**
   * Vote on a proposal of an open round: by `proposal_id`, or `round_id` + `node_id`.
   * @param {Schema<'VoteInputRequest'>} vote
   * @returns {Promise<Schema<'VoteOutput'>>}
   */
  vote(vote) {
    return this.client.request('POST', 'consensus/vote', { json: present(vote) });
  }
}

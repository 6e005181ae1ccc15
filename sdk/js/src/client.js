// SwarmClient: the REST API over fetch and the event feed over WebSocket.
//
//   const client = await SwarmClient.login('http://localhost:8080', 'admin', password);
//   const { nodes } = await client.nodes.list();
//
// A 429 is retried after its Retry-After (`maxRetries` times, each wait at most `maxRetryWait`
// seconds); a 401 with a refresh token at hand refreshes the tokens once and retries; every other
// error throws the class of its code (errors.js).

import { AuthenticationError, ConnectionFailed, RateLimited, errorFor } from './errors.js';
import { EventFeed, webSocketClass } from './events.js';
import { Consensus, Datasets, Models, Network, Nodes, Training } from './resources.js';

export const DEFAULT_URL = 'http://localhost:8080';

/** @typedef {import('./schema.js').components['schemas']['TokenPairOutput']} Tokens */

/**
 * @typedef {object} ClientOptions
 * @property {string} [baseUrl] the server, default http://localhost:8080
 * @property {string} [authToken] an access token
 * @property {string} [refreshToken] with it, an expired access token is renewed once per 401
 * @property {(tokens: Tokens) => void} [onTokens] told the new pair after each refresh (to store it)
 * @property {number} [maxRetries] 429 answers retried, default 3
 * @property {number} [maxRetryWait] the longest wait for one retry in seconds, default 60
 * @property {typeof fetch} [fetch] default: the platform's
 * @property {typeof WebSocket} [WebSocket] default: the platform's, else the `ws` package
 */

/**
 * @typedef {object} RequestOptions
 * @property {unknown} [json] the request body
 * @property {Record<string, string | number | boolean | null | undefined>} [params] the query (unset values are left out)
 * @property {AbortSignal} [signal]
 */

/** @param {Response} response */
function retryAfter(response) {
  const seconds = Number(response.headers.get('Retry-After') ?? '1');
  return Number.isFinite(seconds) ? Math.max(0, seconds) : 1;
}

/** @param {Response} response */
async function errorOf(response) {
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  const error = errorFor(response.status, body);
  if (error instanceof RateLimited) error.retryAfter = retryAfter(response);
  return error;
}

export class SwarmClient {
  /** @param {ClientOptions} [options] */
  constructor({
    baseUrl = DEFAULT_URL,
    authToken,
    refreshToken,
    onTokens,
    maxRetries = 3,
    maxRetryWait = 60,
    fetch = globalThis.fetch.bind(globalThis),
    WebSocket,
  } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.authToken = authToken;
    this.refreshToken = refreshToken;
    this.onTokens = onTokens;
    this.maxRetries = maxRetries;
    this.maxRetryWait = maxRetryWait;
    this.fetch = fetch;
    this.WebSocket = WebSocket;
    this.nodes = new Nodes(this);
    this.training = new Training(this);
    this.models = new Models(this);
    this.datasets = new Datasets(this);
    this.network = new Network(this);
    this.consensus = new Consensus(this);
  }

  /**
   * A client holding the tokens of `username` (and refreshing them as they expire).
   * @param {string} baseUrl
   * @param {string} username
   * @param {string} password
   * @param {Omit<ClientOptions, 'baseUrl' | 'authToken' | 'refreshToken'>} [options]
   */
  static async login(baseUrl, username, password, options = {}) {
    const client = new SwarmClient({ ...options, baseUrl });
    const tokens = await client.request('POST', 'auth/login', { json: { username, password } });
    client.#hold(tokens);
    return client;
  }

  /**
   * A new pair for the refresh token held (the old one is then blacklisted).
   * @returns {Promise<Tokens>}
   */
  async refresh() {
    if (!this.refreshToken) throw new AuthenticationError('no refresh token to renew the access token with');
    const response = await this.#send('POST', 'auth/refresh', { json: { refresh: this.refreshToken } }, false);
    const tokens = await response.json();
    this.#hold(tokens);
    return tokens;
  }

  /** @param {Tokens} tokens */
  #hold(tokens) {
    this.authToken = tokens.access;
    this.refreshToken = tokens.refresh;
    this.onTokens?.(tokens);
  }

  /**
   * The response of `/api/v1/<path>`, body unread; throws the mapped error for an error status.
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<Response>}
   */
  async raw(method, path, options = {}) {
    return this.#send(method, path, options, Boolean(this.refreshToken) && !path.startsWith('auth/'));
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} options
   * @param {boolean} mayRefresh whether a 401 may renew the tokens (never for auth/ itself)
   * @returns {Promise<Response>}
   */
  async #send(method, path, { json, params, signal }, mayRefresh) {
    const url = new URL(`${this.baseUrl}/api/v1/${path}`);
    for (const [key, value] of Object.entries(params ?? {})) {
      if (value !== undefined && value !== null) url.searchParams.set(key, String(value));
    }
    for (let attempt = 0; ; attempt += 1) {
      /** @type {Record<string, string>} */
      const headers = { Accept: 'application/json' };
      if (this.authToken && !path.startsWith('auth/')) headers.Authorization = `Bearer ${this.authToken}`;
      if (json !== undefined) headers['Content-Type'] = 'application/json';
      let response;
      try {
        response = await this.fetch(url, {
          method,
          headers,
          body: json === undefined ? undefined : JSON.stringify(json),
          signal,
        });
      } catch (error) {
        if (signal?.aborted) throw error;
        throw new ConnectionFailed(`${this.baseUrl}: ${/** @type {Error} */ (error).message}`);
      }
      if (response.status === 429 && attempt < this.maxRetries) {
        await response.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 1000 * Math.min(retryAfter(response), this.maxRetryWait)));
        continue;
      }
      if (response.status === 401 && mayRefresh) {
        await response.body?.cancel();
        await this.refresh();
        return this.#send(method, path, { json, params, signal }, false);
      }
      if (!response.ok) throw await errorOf(response);
      return response;
    }
  }

  /**
   * The decoded JSON body (null for an empty one).
   * @param {string} method
   * @param {string} path
   * @param {RequestOptions} [options]
   * @returns {Promise<any>}
   */
  async request(method, path, options = {}) {
    const response = await this.raw(method, path, options);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  /**
   * The event feed: `?types=` subscribes to some event types only.
   * @param {{types?: string[]}} [options]
   * @returns {Promise<EventFeed>} once the server accepted the connection
   */
  async connect({ types } = {}) {
    const Socket = await webSocketClass(this.WebSocket);
    const url = new URL(`${this.baseUrl.replace(/^http/, 'ws')}/api/v1/ws`);
    if (types?.length) url.searchParams.set('types', types.join(','));
    const feed = new EventFeed(new Socket(url.toString(), this.authToken ? ['bearer', this.authToken] : []));
    await feed.opened; // ConnectionFailed: the server is down, or it refused the token
    return feed;
  }
}

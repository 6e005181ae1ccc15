// The event feed (`ws://host:8080/api/v1/ws`): a WebSocket that authenticates with the
// `bearer` subprotocol, so the same code runs in browsers and in Node.js.

import { AuthenticationError, ConnectionFailed } from './errors.js';

/** @typedef {import('./schema.js').components['schemas']['Event']} Event */

const CLOSE_UNAUTHORIZED = 4401;

/**
 * The WebSocket constructor: the one given, the platform's (browsers, Node.js 22+), else the
 * `ws` package (Node.js 20: `npm install ws`).
 * @param {typeof WebSocket | undefined} given
 * @returns {Promise<typeof WebSocket>}
 */
export async function webSocketClass(given) {
  if (given) return given;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  try {
    const name = 'ws'; // not a static import: bundlers and browsers never see it
    return /** @type {typeof WebSocket} */ ((await import(name)).WebSocket);
  } catch {
    throw new ConnectionFailed('no WebSocket here: use Node.js 22+, or `npm install ws` on Node.js 20');
  }
}

/**
 * One connection to the feed. `on('message', (data) => …)` hands each event as its JSON text (as
 * the spec's example reads it); `for await (const event of feed)` yields them decoded.
 */
export class EventFeed {
  /** @type {Record<string, Array<(...args: any[]) => void>>} */
  #handlers = { open: [], message: [], close: [], error: [] };
  /** @type {Event[]} */
  #queue = [];
  /** @type {Array<(result: IteratorResult<Event>) => void>} */
  #waiting = [];
  /** @type {Error | null} */
  #failure = null;
  #closed = false;

  /**
   * @param {WebSocket} socket
   */
  constructor(socket) {
    this.socket = socket;
    /** Resolves when the server accepted the connection; rejects when it refused it. */
    this.opened = new Promise((resolve, reject) => {
      socket.addEventListener('open', () => {
        this.#emit('open');
        resolve(undefined);
      });
      socket.addEventListener('error', () => {
        const error = new ConnectionFailed(`${socket.url}: the connection failed or the server refused the token`);
        this.#emit('error', error);
        reject(error);
      });
    });
    this.opened.catch(() => {}); // awaited by whoever cares; never an unhandled rejection
    socket.addEventListener('message', (message) => {
      const text = typeof message.data === 'string' ? message.data : new TextDecoder().decode(message.data);
      this.#emit('message', text);
      const event = JSON.parse(text);
      const next = this.#waiting.shift();
      if (next) next({ value: event, done: false });
      else this.#queue.push(event);
    });
    socket.addEventListener('close', (close) => {
      this.#closed = true;
      if (close.code === CLOSE_UNAUTHORIZED) this.#failure = new AuthenticationError('the token expired', { status: 401 });
      this.#emit('close', close.code, close.reason);
      for (const next of this.#waiting.splice(0)) next({ value: undefined, done: true });
    });
  }

  /**
   * `open`, `message` (the event's JSON text), `close` (code, reason) or `error`.
   * @param {'open' | 'message' | 'close' | 'error'} name
   * @param {(...args: any[]) => void} handler
   * @returns {this}
   */
  on(name, handler) {
    this.#handlers[name].push(handler);
    return this;
  }

  /**
   * @param {string} name
   * @param {...unknown} args
   */
  #emit(name, ...args) {
    for (const handler of this.#handlers[name]) handler(...args);
  }

  /** @returns {Promise<IteratorResult<Event>>} */
  next() {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** @returns {Promise<IteratorResult<Event>>} */
  async return() {
    this.close();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  close() {
    if (this.socket.readyState <= 1) this.socket.close(1000);
  }
}

// ncrsh-swarm: the JavaScript SDK of ncrsh-Swarm (browsers and Node.js 20+, no dependencies).
export { SwarmClient, DEFAULT_URL } from './client.js';
export { EventFeed } from './events.js';
export * from './errors.js';

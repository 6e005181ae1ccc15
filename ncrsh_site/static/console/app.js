// The web console: the fleet, the running session's curve, the ledger and the checkpoints, over
// the JavaScript SDK (served at /static/sdk/) and the event feed. Tokens live in sessionStorage
// for the tab's life; the access token is renewed with the refresh token as it expires.

import { AuthenticationError, SwarmClient } from '../sdk/index.js';

const TOKENS = 'ncrsh.tokens';
const USER = 'ncrsh.user'; // the signed-in username: operator votes are recorded as operator:<username>
const PAGES = ['fleet', 'training', 'ledger', 'checkpoints'];
const $ = (id) => document.getElementById(id);
const keep = (tokens) => sessionStorage.setItem(TOKENS, JSON.stringify(tokens)); // told each new pair

/** @type {SwarmClient | null} */
let client = null;
/** @type {import('../sdk/index.js').EventFeed | null} */
let feed = null;
let timer = 0;
const session = { id: null, active: null, points: new Map(), tokensPerS: new Map(), latest: null };
const devices = new Map(); // node id → what it trains on (from its detail, fetched once): {gpus, memory_total}

// --- small helpers ------------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  node.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c ?? '')))));
  return node;
}

const short = (hash) => (hash ? String(hash).replace(/^(\w+:)?(.{10}).*$/, '$1$2…') : '—');
const number = (value, digits = 3) => (value === null || value === undefined ? '—' : Number(value).toFixed(digits));
function bytes(n) {
  if (!n) return '—';
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 2 : 0)} MiB`;
}

function age(when) {
  if (!when) return 'never';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(when)) / 1000));
  return seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
}

function toast(message, { error = false } = {}) {
  const line = el('p', { class: error ? 'error' : '' }, message);
  $('toast').append(line);
  setTimeout(() => line.remove(), error ? 8000 : 4000);
}

/** Runs `work`, showing its error (by the API's code and message) instead of throwing. */
async function guarded(work) {
  try {
    return await work();
  } catch (error) {
    if (error instanceof AuthenticationError && error.status === 401) return signOut('Your session expired: sign in again.');
    toast(error.message ?? String(error), { error: true });
    return undefined;
  }
}

function rows(tbody, items, render, empty) {
  tbody.replaceChildren(...(items.length ? items.map(render) : [el('tr', {}, el('td', { colspan: 8, class: 'muted' }, empty))]));
}

// --- sign in and out ----------------------------------------------------------------------------
function clientFor(tokens) {
  return new SwarmClient({
    baseUrl: window.location.origin,
    authToken: tokens.access,
    refreshToken: tokens.refresh,
    onTokens: keep,
  });
}

async function signIn(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  $('login-error').textContent = '';
  try {
    client = await SwarmClient.login(window.location.origin, form.get('username'), form.get('password'), {
      onTokens: keep, // the login's pair included
    });
    sessionStorage.setItem(USER, String(form.get('username')));
    await start();
  } catch (error) {
    $('login-error').textContent = error.status === 401 ? 'Wrong username or password.' : error.message;
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKENS);
  sessionStorage.removeItem(USER);
  feed?.close();
  feed = client = null;
  clearInterval(timer);
  for (const id of ['nav', 'logout', 'feed-state', ...PAGES]) $(id).hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
}

async function start() {
  $('login').hidden = true;
  for (const id of ['nav', 'logout', 'feed-state']) $(id).hidden = false;
  await connect();
  await show();
  clearInterval(timer);
  timer = setInterval(refresh, 3000);
}

// --- the event feed -----------------------------------------------------------------------------
async function connect() {
  if (!client) return;
  try {
    feed = await client.connect();
  } catch {
    $('feed-state').textContent = 'live feed: reconnecting…';
    await guarded(() => client?.refresh()); // the usual cause: an expired access token
    setTimeout(connect, 3000);
    return;
  }
  $('feed-state').textContent = 'live';
  feed.on('message', (data) => onEvent(JSON.parse(data)));
  feed.on('close', () => {
    if (!client) return;
    $('feed-state').textContent = 'live feed: reconnecting…';
    setTimeout(connect, 1000);
  });
}

function onEvent({ type, data }) {
  if (type === 'training_progress' && data.session_id === session.id) {
    addPoint(data);
    renderFacts();
  } else if (type === 'training_started' || type === 'training_stopped') {
    loadTraining();
  }
  const page = current();
  if (page === 'fleet' && type.startsWith('node_')) loadFleet();
  if (page === 'ledger' && type.startsWith('consensus_')) loadLedger();
  if (page === 'checkpoints' && type === 'model_update') loadCheckpoints();
}

// --- pages --------------------------------------------------------------------------------------
function current() {
  const page = window.location.hash.slice(1);
  return PAGES.includes(page) ? page : 'training';
}

async function show() {
  const page = current();
  for (const id of PAGES) $(id).hidden = id !== page;
  for (const link of $('nav').querySelectorAll('a')) link.classList.toggle('current', link.hash === `#${page}`);
  await refresh();
}

function refresh() {
  return { fleet: loadFleet, training: loadTraining, ledger: loadLedger, checkpoints: loadCheckpoints }[current()]();
}

async function loadFleet() {
  const list = await guarded(() => client.nodes.list({ limit: 1000 }));
  if (!list) return;
  // What a node trains on is in its detail only, and does not change: fetched once per node.
  const unknown = list.nodes.filter((node) => !devices.has(node.id)).slice(0, 50);
  const details = await Promise.all(unknown.map((node) => client.nodes.get(node.id).catch(() => null)));
  unknown.forEach((node, i) => devices.set(node.id, details[i] ?? { gpus: [], memory_total: null }));
  $('fleet-summary').textContent = `${list.active} active of ${list.total}`;
  rows($('fleet-rows'), list.nodes, (node) => el('tr', { 'data-node': node.id },
    el('td', {}, el('code', {}, node.id)),
    el('td', { class: `status-${node.status}` }, node.status),
    el('td', {}, node.address ?? '—'),
    el('td', { class: 'device' }, devices.has(node.id) ? device(devices.get(node.id)) : '…'),
    el('td', {}, age(node.last_seen)),
    el('td', {}, number(node.performance.training_speed, 2)),
    el('td', {}, el('code', {}, short(node.model_hash))),
  ), 'No nodes yet: start `ncrsh worker` on a GPU host.');
}

/** "1 × NVIDIA H100 80GB HBM3 (80 GiB)", or the memory of a CPU node. */
function device({ gpus, memory_total: memory }) {
  if (!gpus?.length) return memory ? `CPU · ${bytes(memory)}` : '—';
  const names = [...new Set(gpus.map((g) => g.name))].join(', ');
  return `${gpus.length} × ${names} (${bytes(gpus[0].memory_total)})`;
}

async function loadTraining() {
  const status = await guarded(() => client.training.status().catch((error) => {
    if (error.status === 404) return null; // no session yet
    throw error;
  }));
  if (status === undefined) return;
  if (status && status.session_id !== session.id) {
    session.id = status.session_id;
    session.points.clear();
    session.tokensPerS.clear();
  }
  const active = Boolean(status) && ['running', 'stopping'].includes(status.status);
  // Opened for the operator when no session runs; left as they set it otherwise.
  if (active !== session.active) $('start-panel').open = !active;
  session.active = active;
  session.latest = status;
  if (status?.progress?.step) addPoint({ ...status, node_id: null });
  $('session-title').textContent = status ? `${status.session_id} · ${status.status}` : 'no session yet';
  $('stop').hidden = !active;
  renderFacts();
}

function addPoint(report) {
  const { step, loss, bits_per_byte: bpb, tokens_per_s: speed } = report.progress;
  if (loss === null || loss === undefined || !step) return;
  if (report.node_id) session.tokensPerS.set(report.node_id, speed ?? 0);
  const point = session.points.get(step) ?? { loss: 0, bpb: 0, n: 0 };
  if (report.node_id || point.n === 0) {
    point.loss += loss;
    point.bpb += bpb ?? 0;
    point.n += 1;
    session.points.set(step, point);
  }
  session.latest = { ...session.latest, progress: report.progress };
  drawCurve();
}

function renderFacts() {
  const progress = session.latest?.progress ?? {};
  const speed = [...session.tokensPerS.values()].reduce((a, b) => a + b, 0) || progress.tokens_per_s;
  const facts = {
    Status: session.latest?.status ?? '—',
    Round: progress.round ?? '—',
    Step: progress.total_steps ? `${progress.step ?? 0} / ${progress.total_steps}` : progress.step ?? '—',
    Loss: number(progress.loss),
    'Bits per byte': number(progress.bits_per_byte),
    'Tokens/s': speed ? Math.round(speed).toLocaleString() : '—',
    MFU: progress.mfu ? `${(100 * progress.mfu).toFixed(1)} %` : '—',
    Nodes: session.latest?.nodes?.length ?? '—',
  };
  $('session-facts').replaceChildren(
    ...Object.entries(facts).map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', { 'data-fact': k }, v))),
  );
}

function drawCurve() {
  const svg = $('curve');
  const steps = [...session.points.keys()].sort((a, b) => a - b);
  svg.dataset.points = String(steps.length);
  if (!steps.length) return svg.replaceChildren();
  const series = steps.map((s) => {
    const p = session.points.get(s);
    return { step: s, loss: p.loss / p.n, bpb: p.bpb / p.n };
  });
  const [w, h, pad] = [720, 260, 36];
  const values = series.flatMap((p) => [p.loss, p.bpb]);
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const [first, last] = [steps[0], steps.at(-1)];
  const x = (s) => pad + ((s - first) / Math.max(1, last - first)) * (w - 2 * pad);
  const y = (v) => h - pad - ((v - lo) / Math.max(1e-9, hi - lo)) * (h - 2 * pad);
  const ns = 'http://www.w3.org/2000/svg';
  const make = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const line = (key) => make('polyline', { class: key, points: series.map((p) => `${x(p.step).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ') });
  svg.replaceChildren(
    make('line', { class: 'axis', x1: pad, y1: h - pad, x2: w - pad, y2: h - pad }),
    make('line', { class: 'axis', x1: pad, y1: pad, x2: pad, y2: h - pad }),
    make('text', { x: 2, y: pad }, hi.toFixed(2)),
    make('text', { x: 2, y: h - pad }, lo.toFixed(2)),
    make('text', { x: pad, y: h - 8 }, `step ${first}`),
    make('text', { x: w - pad - 60, y: h - 8 }, `step ${last}`),
    line('loss'),
    line('bpb'),
  );
  $('curve-range').textContent = `${steps.length} reports, steps ${first}–${last}`;
}

async function loadLedger() {
  const [status, history] = await Promise.all([
    guarded(() => client.consensus.status().catch((error) => (error.status === 404 ? null : Promise.reject(error)))),
    guarded(() => client.consensus.history({ limit: 20 })),
  ]);
  if (status === undefined || !history) return;
  $('round-facts').textContent = status
    ? `Session ${status.session_id} · round ${status.round ?? '—'} · ${status.phase}` +
      (status.phase === 'voting' && status.deadline ? ` until ${new Date(status.deadline).toLocaleTimeString()}` : '') +
      ` · quorum ${Math.round(100 * status.quorum)} % · ${status.require_operator_approval ? 'operators approve each round' : 'nodes decide'}`
    : 'No session yet.';
  const proposals = status?.proposals ?? [];
  const me = `operator:${sessionStorage.getItem(USER)}`;
  const open = (p) => p.outcome === 'pending' && status.phase === 'voting' && !p.operator_votes.some((v) => v.voter === me);
  rows($('proposal-rows'), proposals, (p) => el('tr', { 'data-proposal': p.proposal_id },
    el('td', {}, el('code', {}, p.proposal_id)),
    el('td', {}, el('code', {}, p.node_id)),
    el('td', {}, number(p.loss)),
    el('td', {}, number(p.norm)),
    el('td', {}, `${p.votes.approve} ✓ ${p.votes.reject} ✗`),
    el('td', {}, p.operator_votes.map((v) => `${v.voter} ${v.approve ? '✓' : '✗'}`).join(', ') || '—'),
    el('td', {}, p.outcome),
    el('td', {}, ...(open(p) ? [
      el('button', { type: 'button', class: 'approve', onclick: () => vote(p, true) }, 'Approve'), ' ',
      el('button', { type: 'button', class: 'reject', onclick: () => vote(p, false) }, 'Reject'),
    ] : [])),
  ), 'No open round.');
  rows($('decision-rows'), history.decisions, (d) => el('tr', { 'data-round': d.round },
    el('td', {}, d.round),
    el('td', {}, d.committed ? 'committed' : d.status),
    el('td', {}, d.accepted.length),
    el('td', {}, d.rejected.length),
    el('td', {}, d.missing.length),
    el('td', {}, d.decided_by),
    el('td', {}, el('code', {}, short(d.model_hash))),
  ), 'No decisions yet.');
}

async function vote(proposal, approve) {
  const reason = approve ? '' : (window.prompt('Why reject it?') ?? '');
  const done = await guarded(() => client.consensus.vote({ proposal_id: proposal.proposal_id, approve, reason }));
  if (done) toast(`${approve ? 'Approved' : 'Rejected'} ${proposal.node_id}'s update for round ${done.round}`);
  await loadLedger();
}

async function loadCheckpoints() {
  const list = await guarded(() => client.models.list({ limit: 100 }));
  if (!list) return;
  rows($('checkpoint-rows'), list.models, (m) => el('tr', { 'data-model': m.id },
    el('td', {}, el('code', {}, m.id)),
    el('td', {}, el('code', {}, m.session ?? '—')),
    el('td', {}, m.round ?? '—'),
    el('td', {}, m.step ?? '—'),
    el('td', {}, bytes(m.size)),
    el('td', {}, new Date(m.created).toLocaleString()),
    el('td', {},
      el('button', { type: 'button', class: 'download', onclick: () => download(m) }, 'Download'), ' ',
      el('button', { type: 'button', class: 'export', onclick: () => exportModel(m) }, 'Export (HF)'),
    ),
  ), 'No checkpoints yet.');
}

function saveFile(data, filename, type) {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const link = el('a', { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function download(model) {
  toast(`Downloading ${model.id}…`);
  const file = await guarded(() => client.models.download(model.id));
  if (!file) return;
  saveFile(file.data, file.filename, 'application/octet-stream');
  toast(`${file.filename}: sha256 ${file.sha256.slice(0, 16)}… verified`);
}

async function exportModel(model) {
  toast(`Exporting ${model.id}…`);
  const archive = await guarded(() => client.models.export(model.id));
  if (archive) saveFile(archive, `${model.id}-hf.tar`, 'application/x-tar');
}

// --- forms and buttons --------------------------------------------------------------------------
async function startSession(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const integer = (name) => (form.get(name) ? Number.parseInt(String(form.get(name)), 10) : undefined);
  const started = await guarded(() => client.training.start({
    dataset: String(form.get('dataset')),
    model_config: { preset: String(form.get('preset')) },
    strategy: String(form.get('strategy')),
    batch_size: integer('batch_size'),
    learning_rate: form.get('learning_rate') ? Number(form.get('learning_rate')) : undefined,
    local_steps: integer('local_steps'),
    max_steps: integer('max_steps'),
    log_every: integer('log_every'),
    require_operator_approval: form.get('require_operator_approval') === 'on',
  }));
  if (started) toast(`Started ${started.session_id}`);
  await loadTraining();
}

async function stopSession() {
  const stopped = await guarded(() => client.training.stop());
  if (stopped) toast(`${stopped.session_id}: ${stopped.status}`);
  await loadTraining();
}

async function saveModel() {
  const saved = await guarded(() => client.models.save());
  if (saved) toast(`Saved ${saved.id}`);
  await loadCheckpoints();
}

$('login-form').addEventListener('submit', signIn);
$('logout').addEventListener('click', () => signOut());
$('start-form').addEventListener('submit', startSession);
$('stop').addEventListener('click', stopSession);
$('save').addEventListener('click', saveModel);
window.addEventListener('hashchange', () => client && show());

const stored = sessionStorage.getItem(TOKENS);
if (stored) {
  client = clientFor(JSON.parse(stored));
  start();
}

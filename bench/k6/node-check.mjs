// node-check.mjs runs the default function of a k6 script (players.js next to
// this file unless another is named) for a few virtual users under Node, with
// small stand-ins for the k6 modules it imports, against a live gateway: a
// check that the script speaks the real protocol, where k6 is not installed.
// It is not k6: no scenarios, stages, ramping or thresholds enforcement, one
// shared module instance for all VUs. Node 20+, built-ins only. See README.md.
//
//   node bench/k6/node-check.mjs --vus 3 -e URL=ws://127.0.0.1:8090/ws -e MOVES=5 -e INTERVAL_MS=200
//   node bench/k6/node-check.mjs --vus 3 -e URL=... -e SECRET="$KEY"
//
// Options: --vus N (3), --iterations N per VU (1), --timeout SECONDS for the
// whole run (120), -e/--env KEY=VALUE (into __ENV, over the process
// environment, as k6 does), -v/--verbose (print every frame).
//
// Stand-ins: k6/websockets (WebSocket: onopen/onmessage/onerror/onclose,
// addEventListener, send, close, params.headers; error and close events as
// k6 dispatches them), k6/timers, k6/metrics (Trend, Counter, Rate, Gauge),
// k6/crypto (hashes, hmac, createHash/createHMAC, randomBytes), k6/encoding
// (b64encode/b64decode) and k6/execution (exec.vu, exec.scenario,
// exec.test.abort); __ENV, __VU, __ITER. Each VU iteration lasts, as in k6,
// until its timers are cleared and its sockets closed.
//
// Exit status: 0 if every session succeeded, the script measured all its
// results (move_result_ms: 1 join + MOVES moves per session) and the
// gateway sent no error frame; 1 otherwise; 2 for a usage error.

import { AsyncLocalStorage } from 'node:async_hooks';
import { spawnSync } from 'node:child_process';
import nodeCrypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { register } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const NativeWebSocket = globalThis.WebSocket;
const nativeSetTimeout = globalThis.setTimeout;
const nativeSetInterval = globalThis.setInterval;
const nativeClearTimeout = globalThis.clearTimeout;

function log(msg) {
  process.stderr.write(`node-check: ${msg}\n`);
}

function usage(err) {
  if (err) log(err);
  process.stderr.write('usage: node bench/k6/node-check.mjs [--vus N] [--iterations N] [--timeout SECONDS] [-e KEY=VALUE]... [-v] [script.js]\n');
  process.exit(err ? 2 : 0);
}

function parseArgs(argv) {
  const o = { vus: 3, iterations: 1, timeout: 120, verbose: false, env: {}, script: null };
  const num = (name, s, int) => {
    const n = Number(s);
    if (!(n > 0) || (int && !Number.isInteger(n))) usage(`${name}: want a positive ${int ? 'integer' : 'number'}, got ${s}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) [a, v] = [a.slice(0, eq), a.slice(eq + 1)];
    const val = () => v ?? argv[++i];
    switch (a) {
      case '-e': case '--env': {
        const kv = val() ?? '';
        const j = kv.indexOf('=');
        if (j <= 0) usage(`${a}: want KEY=VALUE, got ${kv}`);
        o.env[kv.slice(0, j)] = kv.slice(j + 1);
        break;
      }
      case '-u': case '--vus': o.vus = num(a, val(), true); break;
      case '-i': case '--iterations': o.iterations = num(a, val(), true); break;
      case '--timeout': o.timeout = num(a, val(), false); break;
      case '-v': case '--verbose': o.verbose = true; break;
      case '-h': case '--help': usage(); break;
      default:
        if (a.startsWith('-') || o.script) usage(`unexpected argument ${a}`);
        o.script = a;
    }
  }
  return o;
}

// --- VU iterations ---------------------------------------------------------

const als = new AsyncLocalStorage();
const current = () => als.getStore();
let iterationsStarted = 0;
let iterationsCompleted = 0;
const running = new Set();

// An Iteration is one call of the default function by one VU, with what
// keeps it alive (k6's event loop): its timers, its sockets, a promise.
class Iteration {
  constructor(vu, iter) {
    this.vu = vu;
    this.iter = iter;
    this.inTest = iterationsStarted++;
    this.timers = new Map();
    this.sockets = new Set();
    this.promises = 0;
    this.sync = true;
    this.finished = false;
    this.error = null;
    this.done = new Promise((resolve) => { this.resolve = resolve; });
  }

  // call runs fn as this iteration's code; an exception ends the iteration,
  // as an uncaught exception in a k6 callback does.
  call(fn, thisArg, ...args) {
    if (this.finished) return undefined;
    try {
      return als.run(this, () => fn.apply(thisArg, args));
    } catch (e) {
      this.abort(e);
      return undefined;
    }
  }

  check() {
    if (!this.finished && !this.sync && this.timers.size === 0 && this.sockets.size === 0 && this.promises === 0) {
      this.finish();
    }
  }

  abort(err) {
    if (this.finished) return;
    this.error = err;
    log(`VU ${this.vu} iteration ${this.iter}: ${err && err.stack && !err.quiet ? err.stack : err}`);
    this.finish();
  }

  finish() {
    this.finished = true;
    for (const h of this.timers.values()) nativeClearTimeout(h);
    this.timers.clear();
    for (const s of this.sockets) s._kill();
    this.sockets.clear();
    this.resolve();
  }
}

// --- k6/metrics --------------------------------------------------------------

const registry = new Map(); // name -> {name, type, isTime, samples: [{v, tags}]}

function metric(name, type, isTime) {
  if (typeof name !== 'string' || name === '') throw new TypeError('a metric needs a name');
  let m = registry.get(name);
  if (m && m.type !== type) throw new Error(`metric '${name}' is already a ${m.type}`);
  if (!m) {
    m = { name, type, isTime: !!isTime, samples: [] };
    registry.set(name, m);
  }
  return m;
}

function record(m, value, tags) {
  const v = typeof value === 'boolean' ? Number(value) : value;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new TypeError(`'${value}' is an invalid value for metric '${m.name}', a number or a boolean value is expected`);
  }
  let t = null;
  if (tags && typeof tags === 'object') {
    t = {};
    for (const [k, x] of Object.entries(tags)) t[k] = String(x);
  }
  m.samples.push({ v, tags: t });
}

function metricClass(type) {
  return class {
    constructor(name, isTime = false) {
      this.name = name;
      this.m = metric(name, type, isTime);
    }
    add(value, tags) { record(this.m, value, tags); }
  };
}

const builtin = {
  iterations: metric('iterations', 'counter'),
  iterationDuration: metric('iteration_duration', 'trend', true),
  wsSessions: metric('ws_sessions', 'counter'),
  wsConnecting: metric('ws_connecting', 'trend', true),
  wsSessionDuration: metric('ws_session_duration', 'trend', true),
  wsSent: metric('ws_msgs_sent', 'counter'),
  wsReceived: metric('ws_msgs_received', 'counter'),
};

// Checker-side tallies (not k6 metrics): frame types and close codes.
const framesByType = {};
const closes = {};
const bump = (o, k) => { o[k] = (o[k] || 0) + 1; };

// --- k6/timers ---------------------------------------------------------------

let timerSeq = 0;

function addTimer(repeat, fn, ms, args) {
  const it = current();
  if (!it) throw new Error('node-check: timers are only available in a VU iteration');
  if (typeof fn !== 'function') throw new TypeError('the callback is not a function');
  const id = ++timerSeq;
  const h = (repeat ? nativeSetInterval : nativeSetTimeout)(() => {
    if (!repeat) it.timers.delete(id);
    it.call(fn, undefined, ...args);
    it.check();
  }, Math.max(0, Number(ms) || 0));
  it.timers.set(id, h);
  return id;
}

function clearTimer(id) {
  const it = current();
  const h = it && it.timers.get(id);
  if (h === undefined) return;
  nativeClearTimeout(h);
  it.timers.delete(id);
}

// --- k6/websockets -------------------------------------------------------------

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;
const CLOSE_TEXT = {
  1000: 'normal', 1001: 'going away', 1002: 'protocol error', 1003: 'unsupported data',
  1005: 'no status', 1006: 'abnormal closure', 1007: 'invalid payload data', 1008: 'policy violation',
  1009: 'message too big', 1010: 'mandatory extension', 1011: 'internal server error', 1012: 'service restart',
};
let verbose = false;

// handshakeStatus asks the server again, with the same URL and headers, to
// learn why a handshake failed: Node's WebSocket does not expose the status.
function handshakeStatus(url, headers) {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === 'wss:' ? https : http).request({
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (u.protocol === 'wss:' ? 443 : 80),
      path: u.pathname + u.search,
      headers: {
        ...headers,
        Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': nodeCrypto.randomBytes(16).toString('base64'),
      },
      timeout: 5000,
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: 101 }); });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { if (body.length < 300) body += c; });
      res.on('end', () => resolve({ status: res.statusCode, text: `${res.statusCode} ${res.statusMessage}`, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

// WebSocket follows k6/websockets (xk6-websockets): the protocols argument is
// ignored, params.headers go with the handshake; a failed handshake
// dispatches error (event.error, a string) then close; a close frame other
// than 1000/1001 dispatches error then close; messages arriving after
// close() are dropped; send() outside OPEN throws InvalidStateError.
class WebSocket {
  #it; #ws; #state = CONNECTING; #url; #headers; #tags; #started; #opened = 0; #dead = false; #ending = false;
  #on = {};
  #listeners = { open: [], message: [], error: [], close: [], ping: [], pong: [] };

  constructor(url, protocols, params) {
    const it = current();
    if (!it) throw new Error('node-check: WebSocket is only available in a VU iteration');
    if (url === undefined) throw new Error('WebSocket requires a url');
    let u;
    try {
      u = new URL(String(url));
    } catch {
      throw new Error(`WebSocket requires valid url, but got "${url}"`);
    }
    if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`WebSocket requires url with scheme ws or wss, but got "${u.protocol.slice(0, -1)}"`);
    if (u.hash) throw new Error(`WebSocket requires no url fragment, but got "${u.hash.slice(1)}"`);
    params = params || {};
    this.#headers = { ...(params.headers || {}) };
    this.#tags = { ...(params.tags || {}) };
    this.#url = u.href;
    this.#it = it;
    this.#started = performance.now();
    it.sockets.add(this);
    const init = Object.keys(this.#headers).length > 0 ? { headers: this.#headers } : undefined;
    const ws = new NativeWebSocket(u.href, init);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => this.#onOpen();
    ws.onmessage = (e) => this.#onMessage(e);
    // Node's WebSocket (undici 6) may fire only error, not close, when the
    // handshake fails: either ends a socket that never opened.
    ws.onerror = () => { if (!this.#opened) this.#onClose(null); };
    ws.onclose = (e) => { this.#onClose(e); };
    this.#ws = ws;
  }

  get url() { return this.#url; }
  get readyState() { return this.#state; }
  get bufferedAmount() { return this.#ws.bufferedAmount; }
  get binaryType() { return 'arraybuffer'; }
  set binaryType(s) {
    if (s !== 'arraybuffer') throw new Error(`binaryType ${s} is not supported, only arraybuffer is`);
  }

  addEventListener(type, fn) {
    if (!this.#listeners[type]) {
      log(`can't add event listener: unknown event type ${type}`);
      return;
    }
    if (typeof fn !== 'function') throw new TypeError(`a listener for '${type}' should be callable`);
    this.#listeners[type].push(fn);
  }

  send(data) {
    if (this.#state !== OPEN) throw new Error('InvalidStateError');
    if (typeof data !== 'string' && !(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) {
      throw new TypeError(`unsupported send type ${typeof data}`);
    }
    this.#ws.send(data);
    record(builtin.wsSent, 1, this.#tags);
    if (verbose) log(`VU ${this.#it.vu} > ${typeof data === 'string' ? data : `(${data.byteLength} bytes)`}`);
  }

  close(code, reason) {
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    this.#state = CLOSING;
    try {
      this.#ws.close(code || 1000, reason || '');
    } catch (e) {
      throw new Error(`node-check: Node's WebSocket cannot close with code ${code} (1000 or 3000-4999 only): ${e.message}`);
    }
  }

  ping() {
    throw new Error("node-check: ws.ping() has no stand-in (Node's WebSocket cannot send pings)");
  }

  // _kill drops the socket without events (its iteration ended).
  _kill() {
    this.#dead = true;
    this.#state = CLOSED;
    try { this.#ws.close(1000); } catch { /* already closing */ }
  }

  #event(type, extra) {
    return { type, target: this, timestamp: Date.now(), ...extra };
  }

  #dispatch(type, ev) {
    const fns = [this.#on[type], ...this.#listeners[type]].filter(Boolean);
    for (const fn of fns) {
      if (this.#it.finished) return;
      this.#it.call(fn, this, ev);
    }
  }

  #onOpen() {
    if (this.#dead) return;
    this.#opened = performance.now();
    record(builtin.wsSessions, 1, { ...this.#tags, status: '101' });
    record(builtin.wsConnecting, this.#opened - this.#started, { ...this.#tags, status: '101' });
    if (this.#state === CONNECTING) this.#state = OPEN;
    this.#dispatch('open', this.#event('open'));
    this.#it.check();
  }

  #onMessage(e) {
    if (this.#dead || this.#state !== OPEN) return;
    record(builtin.wsReceived, 1, this.#tags);
    if (typeof e.data === 'string') {
      if (verbose) log(`VU ${this.#it.vu} < ${e.data}`);
      let type = '(not JSON)';
      try {
        const m = JSON.parse(e.data);
        type = m && typeof m.type === 'string' ? m.type : '(no type)';
      } catch { /* tallied as not JSON */ }
      bump(framesByType, type);
    } else {
      bump(framesByType, '(binary)');
    }
    this.#dispatch('message', this.#event('message', { data: e.data, origin: this.#url }));
    this.#it.check();
  }

  async #onClose(e) {
    if (this.#dead || this.#ending) return;
    this.#ending = true;
    const byScript = this.#state === CLOSING;
    let error = null;
    if (!this.#opened) {
      if (!byScript) {
        const r = await handshakeStatus(this.#url, this.#headers);
        if (this.#dead) return;
        const status = r.status ? String(r.status) : '';
        record(builtin.wsSessions, 1, { ...this.#tags, status });
        record(builtin.wsConnecting, performance.now() - this.#started, { ...this.#tags, status });
        error = r.status ? 'websocket: bad handshake' : r.error;
        log(`VU ${this.#it.vu}: handshake failed: ${r.status ? `HTTP ${r.text}${r.body ? `: ${r.body}` : ''}` : r.error}`);
        bump(closes, r.status ? `handshake refused (HTTP ${r.status})` : 'handshake failed');
      }
    } else {
      record(builtin.wsSessionDuration, performance.now() - this.#started, this.#tags);
      const text = CLOSE_TEXT[e.code] || 'unknown';
      bump(closes, `${e.code} (${text}) after ${byScript ? "the script's" : "the server's"} close`);
      if (e.code !== 1000 && e.code !== 1001 && e.code !== 1006) {
        error = `websocket: close ${e.code} (${text})${e.reason ? `: ${e.reason}` : ''}`;
      }
    }
    this.#state = CLOSED;
    if (error) this.#dispatch('error', this.#event('error', { error }));
    this.#dispatch('close', this.#event('close'));
    this.#it.sockets.delete(this);
    this.#it.check();
  }

  static {
    for (const type of ['open', 'message', 'error', 'close', 'ping', 'pong']) {
      Object.defineProperty(this.prototype, `on${type}`, {
        get() { return this.#on[type] || null; },
        set(fn) {
          if (fn != null && typeof fn !== 'function') throw new TypeError(`a value for 'on${type}' should be callable`);
          this.#on[type] = fn || null;
        },
      });
    }
  }
}

// --- k6/crypto and k6/encoding ---------------------------------------------------

function bytes(d) {
  if (typeof d === 'string') return Buffer.from(d, 'utf8');
  if (d instanceof ArrayBuffer) return Buffer.from(d);
  if (ArrayBuffer.isView(d)) return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  if (Array.isArray(d)) return Buffer.from(d);
  throw new TypeError(`want a string or an ArrayBuffer, got ${typeof d}`);
}

const arrayBuffer = (b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);

function encodeDigest(b, enc) {
  switch (enc) {
    case 'hex': return b.toString('hex');
    case 'base64': return b.toString('base64');
    case 'base64url': return b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
    case 'base64rawurl': return b.toString('base64url');
    case 'binary': return arrayBuffer(b);
    default: throw new Error(`invalid output encoding: ${enc}`);
  }
}

const ALGORITHMS = {
  md4: 'md4', md5: 'md5', sha1: 'sha1', sha256: 'sha256', sha384: 'sha384', sha512: 'sha512',
  sha512_224: 'sha512-224', sha512_256: 'sha512-256', ripemd160: 'ripemd160',
};

function algorithm(a) {
  const alg = ALGORITHMS[a];
  if (!alg) throw new Error(`invalid algorithm: ${a}`);
  return alg;
}

function hasher(h) {
  return {
    update(d) { h.update(bytes(d)); },
    digest(enc) { return encodeDigest(h.digest(), enc); },
  };
}

const k6crypto = {
  hmac: (alg, secret, data, enc) => encodeDigest(nodeCrypto.createHmac(algorithm(alg), bytes(secret)).update(bytes(data)).digest(), enc),
  createHash: (alg) => hasher(nodeCrypto.createHash(algorithm(alg))),
  createHMAC: (alg, secret) => hasher(nodeCrypto.createHmac(algorithm(alg), bytes(secret))),
  randomBytes: (n) => arrayBuffer(nodeCrypto.randomBytes(n)),
};
for (const a of Object.keys(ALGORITHMS)) {
  k6crypto[a] = (data, enc) => encodeDigest(nodeCrypto.createHash(algorithm(a)).update(bytes(data)).digest(), enc);
}

const k6encoding = {
  b64encode(input, encoding = 'std') {
    const s = bytes(input).toString('base64');
    switch (encoding || 'std') {
      case 'std': return s;
      case 'rawstd': return s.replace(/=+$/, '');
      case 'url': return s.replace(/\+/g, '-').replace(/\//g, '_');
      case 'rawurl': return s.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
      default: throw new Error(`unsupported base64 encoding: ${encoding}`);
    }
  },
  b64decode(input, encoding = 'std', format) {
    const b = Buffer.from(String(input), 'base64'); // Node reads both alphabets, padded or not
    return format === 's' ? b.toString('utf8') : arrayBuffer(b);
  },
};

// --- k6/execution ------------------------------------------------------------------

const startTime = Date.now();
let testAborted = null;
let scriptOptions = {};

const k6execution = {
  vu: {
    get idInTest() { return current()?.vu ?? 0; },
    get idInInstance() { return current()?.vu ?? 0; },
    get iterationInScenario() { return current()?.iter ?? 0; },
    get iterationInInstance() { return current()?.iter ?? 0; },
    tags: {},
    metrics: { tags: {}, metadata: {} },
  },
  scenario: {
    name: 'node-check',
    executor: 'per-vu-iterations',
    startTime,
    get iterationInTest() { return current()?.inTest ?? 0; },
    get iterationInInstance() { return current()?.inTest ?? 0; },
  },
  instance: {
    get vusActive() { return running.size; },
    get iterationsCompleted() { return iterationsCompleted; },
    get currentTestRunDuration() { return Date.now() - startTime; },
  },
  test: {
    get options() { return scriptOptions; },
    abort(reason = 'aborted by the script') {
      testAborted = String(reason);
      for (const it of running) if (it !== current()) it.abort(new Error(`test aborted: ${testAborted}`));
      throw new Error(`test aborted: ${testAborted}`);
    },
  },
};

const SHIMS = {
  'k6/websockets': { WebSocket },
  'k6/timers': {
    setTimeout: (fn, ms, ...args) => addTimer(false, fn, ms, args),
    setInterval: (fn, ms, ...args) => addTimer(true, fn, ms, args),
    clearTimeout: clearTimer,
    clearInterval: clearTimer,
  },
  'k6/metrics': { Trend: metricClass('trend'), Counter: metricClass('counter'), Rate: metricClass('rate'), Gauge: metricClass('gauge') },
  'k6/crypto': k6crypto,
  'k6/encoding': k6encoding,
  'k6/execution': k6execution,
};

// The loader hook maps each 'k6/...' import to a module re-exporting its
// stand-in, and loads the script's own .js files as ES modules.
const HOOKS = `
let exportsOf, scriptDir;
export function initialize(data) { ({ exportsOf, scriptDir } = data); }
export async function resolve(specifier, context, next) {
  if (specifier === 'k6' || specifier.startsWith('k6/')) {
    const names = exportsOf[specifier];
    if (!names) throw new Error('node-check: no stand-in for ' + specifier + ' (only ' + Object.keys(exportsOf).join(', ') + ')');
    const src = 'const m = globalThis[Symbol.for("veltrix.node-check.k6")][' + JSON.stringify(specifier) + '];\\n' +
      'export default m;\\n' + names.map((n) => 'export const ' + n + ' = m.' + n + ';').join('\\n');
    return { url: 'data:text/javascript,' + encodeURIComponent(src), format: 'module', shortCircuit: true };
  }
  const r = await next(specifier, context);
  if (r.url.startsWith(scriptDir) && r.url.endsWith('.js')) return { ...r, format: 'module' };
  return r;
}
`;

// --- summary -------------------------------------------------------------------------

// percentile as k6's trend sink computes it (linear interpolation).
function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const i = (p / 100) * (sorted.length - 1);
  const lo = sorted[Math.floor(i)];
  const hi = sorted[Math.ceil(i)];
  return lo + (hi - lo) * (i - Math.floor(i));
}

function stats(m, samples = m.samples) {
  const vals = samples.map((s) => s.v);
  const n = vals.length;
  const sum = vals.reduce((a, b) => a + b, 0);
  switch (m.type) {
    case 'trend': {
      const sorted = [...vals].sort((a, b) => a - b);
      return {
        count: n, avg: n ? sum / n : 0, min: sorted[0] ?? 0, max: sorted[n - 1] ?? 0,
        med: percentile(sorted, 50), p: (x) => percentile(sorted, x),
      };
    }
    case 'counter': return { count: sum, rate: sum / Math.max(1e-3, (Date.now() - startTime) / 1000) };
    case 'rate': {
      const passes = vals.filter((v) => v !== 0).length;
      return { rate: n ? passes / n : 0, passes, total: n };
    }
    default: return { value: vals[n - 1] ?? 0, min: Math.min(...vals), max: Math.max(...vals), count: n };
  }
}

const fmt = (m, v) => (m.isTime ? `${v.toFixed(v < 10 ? 2 : 1)}ms` : `${+v.toFixed(3)}`);

function describe(m, samples) {
  const s = stats(m, samples);
  switch (m.type) {
    case 'trend':
      return s.count === 0 ? 'no samples'
        : `count=${s.count} avg=${fmt(m, s.avg)} min=${fmt(m, s.min)} p(50)=${fmt(m, s.med)} ` +
          `p(90)=${fmt(m, s.p(90))} p(99)=${fmt(m, s.p(99))} max=${fmt(m, s.max)}`;
    case 'counter': return `${s.count}`;
    case 'rate': return `${(100 * s.rate).toFixed(2)}% (${s.passes} of ${s.total})`;
    default: return s.count === 0 ? 'no samples' : `value=${fmt(m, s.value)} min=${fmt(m, s.min)} max=${fmt(m, s.max)}`;
  }
}

function tagKey(tags) {
  return tags ? Object.entries(tags).filter(([, v]) => v !== '').map(([k, v]) => `${k}:${v}`).sort().join(',') : '';
}

function printMetrics() {
  const width = Math.max(...[...registry.keys()].map((k) => k.length)) + 4;
  for (const m of [...registry.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    console.log(`  ${(m.name + ' ').padEnd(width, '.')}: ${describe(m)}`);
    if (m.type !== 'counter' && m.type !== 'rate') continue;
    const byTags = new Map();
    for (const s of m.samples) {
      const k = tagKey(s.tags);
      if (k) byTags.set(k, [...(byTags.get(k) || []), s]);
    }
    if (byTags.size > 1 || (byTags.size === 1 && m.type === 'counter')) {
      for (const [k, ss] of [...byTags].sort()) console.log(`  ${''.padEnd(width)}  {${k}}: ${describe(m, ss)}`);
    }
  }
}

// thresholds evaluates the script's thresholds on what this run collected:
// informational only, a handful of VUs says nothing about load.
function printThresholds(thresholds) {
  const lines = [];
  for (const [key, list] of Object.entries(thresholds || {})) {
    const km = /^([^{]+)(?:\{(.*)\})?$/.exec(key);
    const m = registry.get(km[1]);
    let samples = m ? m.samples : [];
    if (m && km[2]) {
      const want = Object.fromEntries(km[2].split(',').map((kv) => kv.split(':').map((x) => x.trim())));
      samples = samples.filter((s) => s.tags && Object.entries(want).every(([k, v]) => s.tags[k] === v));
    }
    for (const t of [].concat(list)) {
      const expr = typeof t === 'string' ? t : t.threshold;
      const e = /^\s*(avg|min|max|med|count|rate|value|p\(([\d.]+)\))\s*(<=|>=|<|>|===|==|!=)\s*(-?[\d.]+)\s*$/.exec(expr);
      if (!m || !e) {
        lines.push(`  ${key} ${expr}: not evaluated`);
        continue;
      }
      if (samples.length === 0) {
        lines.push(`  ${key} ${expr}: not evaluated (no samples)`);
        continue;
      }
      const s = stats(m, samples);
      const got = e[2] !== undefined ? s.p?.(Number(e[2])) : s[e[1]];
      if (typeof got !== 'number') {
        lines.push(`  ${key} ${expr}: not evaluated (no ${e[1]} for a ${m.type})`);
        continue;
      }
      const want = Number(e[4]);
      const ok = { '<': got < want, '<=': got <= want, '>': got > want, '>=': got >= want, '==': got === want, '===': got === want, '!=': got !== want }[e[3]];
      lines.push(`  ${key} ${expr}: ${ok ? 'ok' : 'crossed'} (${+got.toFixed(3)})`);
    }
  }
  if (lines.length) {
    console.log('thresholds (informational, not enforced):');
    for (const l of lines) console.log(l);
  }
}

// --- main ------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  verbose = opts.verbose;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const script = path.resolve(opts.script || path.join(here, 'players.js'));
  globalThis.__ENV = { ...process.env, ...opts.env };
  Object.defineProperty(globalThis, '__VU', { get: () => current()?.vu ?? 0, configurable: true });
  Object.defineProperty(globalThis, '__ITER', { get: () => current()?.iter ?? 0, configurable: true });
  globalThis[Symbol.for('veltrix.node-check.k6')] = SHIMS;
  const exportsOf = Object.fromEntries(Object.entries(SHIMS).map(([k, v]) => [k, Object.keys(v)]));
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, import.meta.url, {
    data: { exportsOf, scriptDir: pathToFileURL(path.dirname(script) + path.sep).href },
  });

  const mod = await import(pathToFileURL(script).href);
  if (typeof mod.default !== 'function') {
    log(`${script} has no default function`);
    process.exit(2);
  }
  scriptOptions = mod.options || {};
  const env = globalThis.__ENV;
  console.log(`node-check: ${opts.vus} VUs x ${opts.iterations} iteration(s) of ${path.relative(process.cwd(), script) || script}` +
    `${env.URL ? ` against ${env.URL}` : ''} (not k6: options.scenarios ignored, no load semantics)`);

  let data;
  if (typeof mod.setup === 'function') data = await mod.setup();

  let timedOut = false;
  const deadline = nativeSetTimeout(() => {
    timedOut = true;
    for (const it of running) it.abort(Object.assign(new Error(`timed out after ${opts.timeout}s`), { quiet: true }));
  }, opts.timeout * 1000);
  let internalErrors = 0;
  process.on('unhandledRejection', (e) => {
    internalErrors++;
    log(`unhandled rejection: ${e && e.stack ? e.stack : e}`);
  });
  process.on('SIGINT', () => {
    testAborted = 'interrupted';
    for (const it of running) it.abort(Object.assign(new Error('interrupted'), { quiet: true }));
  });

  const failedIterations = [];
  const vu = async (id) => {
    for (let i = 0; i < opts.iterations && !timedOut && !testAborted; i++) {
      const it = new Iteration(id, i);
      running.add(it);
      const t0 = performance.now();
      const r = it.call(mod.default, undefined, data === undefined ? undefined : JSON.parse(JSON.stringify(data)));
      it.sync = false;
      if (r && typeof r.then === 'function') {
        it.promises++;
        r.then(() => { it.promises--; it.check(); }, (e) => it.abort(e));
      }
      it.check();
      await it.done;
      running.delete(it);
      iterationsCompleted++;
      record(builtin.iterations, 1);
      record(builtin.iterationDuration, performance.now() - t0);
      if (it.error) failedIterations.push(it);
    }
  };
  await Promise.all(Array.from({ length: opts.vus }, (_, i) => vu(i + 1)));
  nativeClearTimeout(deadline);
  if (typeof mod.teardown === 'function') await mod.teardown(data);

  console.log(`\nmetrics (${((Date.now() - startTime) / 1000).toFixed(1)}s):`);
  printMetrics();
  console.log(`frames received by type: ${Object.entries(framesByType).sort().map(([k, v]) => `${k}=${v}`).join(' ') || 'none'}`);
  console.log(`connections ended: ${Object.entries(closes).sort().map(([k, v]) => `${v} x ${k}`).join(', ') || 'none'}`);
  printThresholds(scriptOptions.thresholds);

  // The verdict, on players.js's own metrics.
  const problems = [];
  const sessions = opts.vus * opts.iterations;
  const failed = registry.get('session_failed');
  const results = registry.get('move_result_ms');
  const errors = registry.get('gateway_errors');
  if (failedIterations.length) problems.push(`${failedIterations.length} iteration(s) ended with an exception or timed out`);
  if (!failed || failed.samples.length === 0) problems.push('no session reported (session_failed has no samples)');
  else if (stats(failed).passes > 0) problems.push(`session_failed: ${describe(failed)} of its samples are failures`);
  const moves = parseInt(env.MOVES || '60', 10);
  const want = sessions * (1 + moves);
  const got = results ? results.samples.length : 0;
  if (got === 0) problems.push('no move result measured (move_result_ms has no samples)');
  else if (got < want) problems.push(`move_result_ms has ${got} samples, want ${want} (1 join + MOVES=${moves} moves per session)`);
  if (errors && stats(errors).count > 0) problems.push(`the gateway sent ${stats(errors).count} error frame(s) (gateway_errors)`);
  if (internalErrors) problems.push(`${internalErrors} unhandled rejection(s)`);
  if (testAborted) problems.push(`test aborted: ${testAborted}`);
  const rejected = registry.get('moves_rejected');
  if (rejected && stats(rejected).count > 0) console.log(`note: the engine rejected ${stats(rejected).count} action(s) (moves_rejected)`);
  for (const p of problems) console.log(`FAIL: ${p}`);
  if (!problems.length) console.log(`OK: ${sessions} session(s), ${got} results measured, no gateway errors`);
  process.exit(problems.length ? 1 : 0);
}

if (typeof NativeWebSocket !== 'function') {
  // Node 20 has its WebSocket client behind a flag: run again with it.
  const r = spawnSync(process.execPath, [
    '--experimental-websocket', '--disable-warning=ExperimentalWarning',
    ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2),
  ], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
} else {
  await main();
}

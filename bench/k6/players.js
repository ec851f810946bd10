// k6 load script for a Veltrix gateway (k6 v1, module k6/websockets):
// virtual players connect, join a hunt and walk along the Lisbon riverside
// of the harbour hunt, one position fix a second, measuring the time from
// each move to its result. See bench/k6/README.md.
//
//   k6 run -e URL=ws://127.0.0.1:8080/ws -e VUS=1000 bench/k6/players.js
//   k6 run -e URL=... -e SECRET=$KEY bench/k6/players.js   # gateways with the token auth plugin
import { WebSocket } from 'k6/websockets';
import { setInterval, clearInterval, setTimeout } from 'k6/timers';
import { Trend, Counter, Rate } from 'k6/metrics';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import exec from 'k6/execution';

const URL = __ENV.URL || 'ws://127.0.0.1:8080/ws';
const HUNT = __ENV.HUNT || 'harbour';
const VUS = parseInt(__ENV.VUS || '100', 10);
const MOVES = parseInt(__ENV.MOVES || '60', 10); // moves per session
const INTERVAL_MS = parseInt(__ENV.INTERVAL_MS || '1000', 10);
const SECRET = __ENV.SECRET || ''; // token plugin key: each VU signs its own token
const RUN = __ENV.RUN || Math.random().toString(36).slice(2, 8);

export const options = {
  scenarios: {
    players: {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: __ENV.RAMP || '30s', target: VUS },
        { duration: __ENV.HOLD || '2m', target: VUS },
        { duration: '10s', target: 0 },
      ],
      gracefulRampDown: '30s',
    },
  },
  thresholds: {
    move_result_ms: ['p(99)<1000'],
    session_failed: ['rate<0.01'],
  },
};

const moveResult = new Trend('move_result_ms', true);
const leaderboardDelay = new Trend('leaderboard_delay_ms', true);
const rejected = new Counter('moves_rejected');
const discoveries = new Counter('discoveries');
const gatewayErrors = new Counter('gateway_errors');
const failed = new Rate('session_failed');

// A walk from Cais do Sodré east along the river (the harbour hunt), about
// 1.4 m/s; each player starts at its own point.
const START = { lat: 38.70585, lon: -9.14480 };
const STEP_LON = 0.000016; // ~1.4 m at this latitude

function b64url(s) {
  return encoding.b64encode(s, 'rawurl');
}

// token signs an HS256 JWT for the token auth plugin (sub, exp).
function token(player) {
  const header = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const now = Math.floor(Date.now() / 1000);
  const body = b64url(JSON.stringify({ sub: player, iat: now, exp: now + 3600 }));
  const sig = crypto.hmac('sha256', SECRET, `${header}.${body}`, 'base64rawurl');
  return `${header}.${body}.${sig}`;
}

export default function () {
  const player = `k6-${RUN}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  const params = {};
  let url = `${URL}?player=${player}`;
  if (SECRET) {
    url = URL;
    params.headers = { Authorization: `Bearer ${token(player)}` };
  }
  const ws = new WebSocket(url, null, params);
  const sent = {};
  let seq = 0;
  let moves = 0;
  let timer = null;
  let ok = false;
  const offset = (exec.vu.idInTest * 37) % 500;

  const send = (m) => ws.send(JSON.stringify(m));
  const move = () => {
    if (moves >= MOVES) {
      clearInterval(timer);
      setTimeout(() => ws.close(), 2 * INTERVAL_MS); // the last results
      return;
    }
    moves++;
    seq++;
    sent[seq] = Date.now();
    send({
      type: 'move', seq,
      lat: START.lat + 0.000002 * Math.sin((offset + moves) / 20),
      lon: START.lon + STEP_LON * (offset + moves),
      at: Date.now(),
    });
  };

  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    switch (m.type) {
      case 'welcome':
        seq++;
        sent[seq] = Date.now();
        send({ type: 'join', hunt: HUNT, seq });
        break;
      case 'result': {
        const t0 = sent[m.seq];
        if (t0 !== undefined && !m.duplicate) {
          delete sent[m.seq];
          moveResult.add(Date.now() - t0);
          if (!m.ok) rejected.add(1, { reason: m.reason || '' });
          if (m.seq === 1 && m.ok) {
            ok = true;
            timer = setInterval(move, INTERVAL_MS);
          } else if (m.seq === 1) {
            ws.close(); // join refused (unknown_hunt...): the session failed
          }
        }
        break;
      }
      case 'discovery':
        discoveries.add(1);
        break;
      case 'leaderboard':
        if (m.ts) leaderboardDelay.add(Date.now() - m.ts);
        break;
      case 'error':
        gatewayErrors.add(1, { code: m.code });
        if (!ok) ws.close(); // the join was refused (bad_field...): the session failed
        break;
    }
  };
  // k6 dispatches close after every error: onclose counts each session once.
  ws.onclose = () => {
    if (timer !== null) clearInterval(timer);
    failed.add(!ok);
  };
}

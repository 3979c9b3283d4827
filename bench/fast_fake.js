#!/usr/bin/env node
// A fast loopback fake of the Telegram Bot API and of a Matrix homeserver,
// for the end-to-end benchmarks (the tests' Python fakes are exact but slow:
// here the server must not be the bottleneck).  It follows the same wire
// formats as tests/telegram/fake_botapi.py and tests/matrix/fake_homeserver.py
// for the calls the bot makes, answers from memory, keeps connections alive.
//
// Usage: node fast_fake.js PORT TELEGRAM_UPDATES.jsonl MATRIX_EVENTS.jsonl [LIMITS]
//   Each line of the .jsonl files is one update / one room event, handed out
//   100 at a time (getUpdates honours offset; /sync honours since).
//   LIMITS = "telegram": enforce Telegram's limits on sends (1 message per
//   chat per second, 20 per minute per group, 30 per second overall) with a
//   429 and retry_after, counting each refusal.
// GET /stats -> {tg_replies, mx_replies, refused_429, first_ms, last_ms, ...}.
// GET /requests -> every send the bot made, in order, one per line:
//   "METHOD PATH<TAB>BODY", which bench/ceiling.c replays.
'use strict';
const http = require('http');
const fs = require('fs');

const port = Number(process.argv[2]);
const load = (f) => (f && fs.existsSync(f)
  ? fs.readFileSync(f, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l)) : []);
const tgUpdates = load(process.argv[3]);
const mxEvents = load(process.argv[4]);
const limits = process.argv[5] === 'telegram';
const ROOM = '!bench:test.local';
const stats = { tg_replies: 0, mx_replies: 0, refused_429: 0, first_ms: 0, last_ms: 0, tg_confirmed: 0,
  mx_served: 0, chats: {}, sends_at: [] };
let messageId = 1;
const requests = [];
const txns = new Map();

tgUpdates.forEach((u, i) => { u.update_id = 1000 + i; });
const mxRooms = mxEvents.map((e) => { const r = e.room || ROOM; delete e.room; return r; });
mxEvents.forEach((e, i) => { e.event_id = `$b${i}`; e.origin_server_ts = Date.now(); });

function send(res, status, obj, headers) {
  const body = JSON.stringify(obj);
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body) }, headers || {}));
  res.end(body);
}

function now() { return Date.now(); }
function touch() { if (!stats.first_ms) stats.first_ms = now(); stats.last_ms = now(); }

// Telegram's limits, as a server would enforce them.
const global = [];
function limited(chat) {
  if (!limits) return 0;
  const t = now();
  while (global.length && global[0] <= t - 1000) global.shift();
  const c = stats.chats[chat] || (stats.chats[chat] = { last: 0, minute: [] });
  while (c.minute.length && c.minute[0] <= t - 60000) c.minute.shift();
  if (global.length >= 30) return 1;
  if (c.last && t - c.last < 1000) return 1;
  if (String(chat).startsWith('-') && c.minute.length >= 20) return Math.ceil((c.minute[0] + 60000 - t) / 1000);
  global.push(t);
  c.last = t;
  c.minute.push(t);
  return 0;
}

function telegram(method, body, res, raw, path) {
  switch (method) {
    case 'getMe':
      return send(res, 200, { ok: true, result: { id: 4242, is_bot: true, first_name: 'Ensemble', username: 'EnsembleBot' } });
    case 'setMyCommands': case 'deleteWebhook': case 'answerCallbackQuery': case 'setWebhook':
      return send(res, 200, { ok: true, result: true });
    case 'getChatAdministrators':
      return send(res, 200, { ok: true, result: [{ status: 'creator', user: { id: 1, is_bot: false, first_name: 'u0' } }] });
    case 'getUpdates': {
      const offset = Number(body.offset || 0);
      const start = Math.max(0, offset - 1000);
      stats.tg_confirmed = start;
      const answer = () => {
        const batch = tgUpdates.slice(start, start + Number(body.limit || 100));
        if (batch.length) touch();
        send(res, 200, { ok: true, result: batch });
      };
      if (start < tgUpdates.length) return answer();
      const timer = setTimeout(answer, Math.min(Number(body.timeout || 0), 50) * 1000);
      res.on('close', () => clearTimeout(timer));
      return undefined;
    }
    case 'sendMessage': case 'sendPoll': case 'editMessageText': case 'stopPoll': {
      const retry = limited(body.chat_id);
      if (retry) {
        stats.refused_429 += 1;
        return send(res, 429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${retry}`,
          parameters: { retry_after: retry } });
      }
      stats.tg_replies += 1;
      requests.push(`POST ${path}\t${raw}`);
      touch();
      stats.sends_at.push(now());
      const result = { message_id: messageId++, date: Math.floor(now() / 1000),
        chat: { id: Number(body.chat_id), type: 'supergroup' }, text: body.text };
      if (method === 'sendPoll') result.poll = { id: `p${messageId}`, question: body.question, options: [] };
      return send(res, 200, { ok: true, result });
    }
    default:
      return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
  }
}

function matrix(method, path, query, body, res, raw) {
  if (path === '/_matrix/client/v3/login') {
    return send(res, 200, { user_id: '@ensemble:test.local', access_token: 'syt_bench', device_id: 'BENCH' });
  }
  if (/^\/_matrix\/client\/v3\/user\/[^/]+\/filter$/.test(path)) return send(res, 200, { filter_id: '1' });
  if (path === '/_matrix/client/v3/sync') {
    const since = query.get('since');
    let start = since ? Number(since.slice(1)) : -1;
    if (start < 0) {  // the first sync: where now is, and the room's state
      return send(res, 200, { next_batch: 's0', rooms: { join: { [ROOM]: {
        timeline: { events: [], limited: false }, summary: { 'm.joined_member_count': 3000 },
        state: { events: [{ type: 'm.room.power_levels', state_key: '', sender: '@u0:test.local', event_id: '$pl',
          origin_server_ts: 1, content: { users: { '@u0:test.local': 100 }, users_default: 0 } }] } } },
      invite: {}, leave: {} } });
    }
    const answer = () => {
      const batch = mxEvents.slice(start, start + 100);
      if (batch.length) touch();
      stats.mx_served = start;
      const join = {};
      batch.forEach((e, k) => {
        const r = mxRooms[start + k];
        if (!join[r]) join[r] = { timeline: { events: [], limited: false } };
        join[r].timeline.events.push(e);
      });
      send(res, 200, { next_batch: `s${start + batch.length}`, rooms: { join, invite: {}, leave: {} } });
    };
    if (start < mxEvents.length) return answer();
    stats.mx_served = start;
    const timer = setTimeout(answer, Math.min(Number(query.get('timeout') || 0), 30000));
    res.on('close', () => clearTimeout(timer));
    return undefined;
  }
  const m = /^\/_matrix\/client\/v3\/rooms\/([^/]+)\/send\/([^/]+)\/([^/]+)$/.exec(path);
  if (m && method === 'PUT') {
    const key = m[3];
    if (!txns.has(key)) {
      txns.set(key, `$r${txns.size}`);
      stats.mx_replies += 1;
      requests.push(`PUT ${path}\t${raw}`);
      touch();
    }
    return send(res, 200, { event_id: txns.get(key) });
  }
  if (/\/join$|\/leave$/.test(path)) return send(res, 200, { room_id: ROOM });
  return send(res, 404, { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
}

// FAKE_TRACE=1: when each request arrived and its answer left (monotonic
// ns), for bench/gaps.py; GET /trace returns them, one per line.
const tracing = !!process.env.FAKE_TRACE;
const trace = [];
const server = http.createServer((req, res) => {
  if (tracing && !req.url.startsWith('/stats')) {
    const t0 = process.hrtime.bigint();
    const what = req.url.split('?')[0].split('/').pop();
    res.on('finish', () => trace.push(`${t0} ${process.hrtime.bigint()} ${what}`));
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const url = new URL(req.url, 'http://x');
    let body = {};
    const raw = Buffer.concat(chunks).toString();
    if (chunks.length) {
      try { body = JSON.parse(raw); } catch (e) { body = {}; }
    }
    if (url.pathname === '/stats') {
      const out = Object.assign({}, stats, { chats: Object.keys(stats.chats).length, sends_at: undefined,
        tg_total: tgUpdates.length, mx_total: mxEvents.length });
      return send(res, 200, out);
    }
    if (url.pathname === '/trace') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end(trace.join('\n') + '\n');
    }
    if (url.pathname === '/sends') return send(res, 200, stats.sends_at);
    if (url.pathname === '/requests') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return res.end(requests.join('\n') + '\n');
    }
    const tg = /^\/bot[^/]+\/([A-Za-z]+)$/.exec(url.pathname);
    if (tg) return telegram(tg[1], body, res, raw, url.pathname);
    return matrix(req.method, url.pathname, url.searchParams, body, res, raw);
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1', () => console.log('ready'));

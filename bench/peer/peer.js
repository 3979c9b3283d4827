#!/usr/bin/env node
// The peer of the end-to-end benchmark (bench/e2e.py --peer): the benchmark's
// Telegram workload (meetups proposed with dates, votes on them, RSVPs, lists)
// handled the way a user who picked grammY instead of Ensemble would write it:
// grammY's command handlers and its built-in long polling, SQLite through
// better-sqlite3 with the WAL settings storage/db.c uses.  Each command
// stores its effect (a vote row, an RSVP row, a meetup and its dates) in one
// transaction and replies with what changed (the tally).  Nothing here is
// slowed down on purpose; nothing is cached that a real bot would not cache.
//
// Long polling, not @grammyjs/runner: bot.start() is what grammY's guide
// sets up first and what most bots run; it handles one update at a time and
// sends one request at a time, as Ensemble does on Telegram, so both bots
// do the same round trips.  (The runner would overlap the replies'
// requests; with SQLite's synchronous calls it would not spread the work
// over more cores.)
//
// Usage: node peer.js API_ROOT DATABASE  (the token is the benchmark's)
'use strict';
const { Bot } = require('grammy');
const Database = require('better-sqlite3');

const [apiRoot, dbPath] = process.argv.slice(2);
const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 4000');
db.pragma('cache_size = -2800');
db.pragma('foreign_keys = ON');
db.exec(`
CREATE TABLE IF NOT EXISTS chats (id INTEGER PRIMARY KEY, tg_id INTEGER NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, tg_id INTEGER NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meetups (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL REFERENCES chats(id),
  number INTEGER NOT NULL, title TEXT NOT NULL, max INTEGER, created_by INTEGER NOT NULL REFERENCES users(id),
  UNIQUE (chat_id, number));
CREATE TABLE IF NOT EXISTS options (id INTEGER PRIMARY KEY, meetup_id INTEGER NOT NULL REFERENCES meetups(id),
  n INTEGER NOT NULL, starts TEXT NOT NULL, UNIQUE (meetup_id, n));
CREATE TABLE IF NOT EXISTS votes (option_id INTEGER NOT NULL REFERENCES options(id),
  user_id INTEGER NOT NULL REFERENCES users(id), answer TEXT NOT NULL, PRIMARY KEY (option_id, user_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rsvps (meetup_id INTEGER NOT NULL REFERENCES meetups(id),
  user_id INTEGER NOT NULL REFERENCES users(id), answer TEXT NOT NULL, PRIMARY KEY (meetup_id, user_id)) WITHOUT ROWID;
`);

const q = {
  chat: db.prepare('INSERT INTO chats (tg_id) VALUES (?) ON CONFLICT (tg_id) DO UPDATE SET tg_id = tg_id RETURNING id'),
  user: db.prepare('INSERT INTO users (tg_id, name) VALUES (?, ?) ON CONFLICT (tg_id) DO UPDATE SET name = excluded.name RETURNING id'),
  nextNumber: db.prepare('SELECT COALESCE(MAX(number), 0) + 1 AS n FROM meetups WHERE chat_id = ?'),
  addMeetup: db.prepare('INSERT INTO meetups (chat_id, number, title, max, created_by) VALUES (?, ?, ?, ?, ?)'),
  addOption: db.prepare('INSERT INTO options (meetup_id, n, starts) VALUES (?, ?, ?)'),
  meetup: db.prepare('SELECT id, number, title, max FROM meetups WHERE chat_id = ? AND number = ?'),
  options: db.prepare('SELECT id, n, starts FROM options WHERE meetup_id = ? ORDER BY n'),
  vote: db.prepare('INSERT INTO votes (option_id, user_id, answer) VALUES (?, ?, ?) '
    + 'ON CONFLICT (option_id, user_id) DO UPDATE SET answer = excluded.answer'),
  unvote: db.prepare('DELETE FROM votes WHERE user_id = ? AND option_id IN (SELECT id FROM options WHERE meetup_id = ?)'),
  tally: db.prepare("SELECT o.n, o.starts, SUM(v.answer = 'yes') AS yes, SUM(v.answer = 'maybe') AS maybe "
    + 'FROM options o LEFT JOIN votes v ON v.option_id = o.id WHERE o.meetup_id = ? GROUP BY o.id ORDER BY o.n'),
  rsvp: db.prepare('INSERT INTO rsvps (meetup_id, user_id, answer) VALUES (?, ?, ?) '
    + 'ON CONFLICT (meetup_id, user_id) DO UPDATE SET answer = excluded.answer'),
  rsvps: db.prepare('SELECT answer, COUNT(*) AS n FROM rsvps WHERE meetup_id = ? GROUP BY answer'),
  list: db.prepare('SELECT number, title FROM meetups WHERE chat_id = ? ORDER BY number DESC LIMIT 20'),
};

// The chat's and the sender's rows, as a middleware would look them up.
function who(ctx) {
  return { chat: q.chat.get(ctx.chat.id).id, user: q.user.get(ctx.from.id, ctx.from.first_name).id };
}

function tallyText(m) {
  const lines = q.tally.all(m.id).map((o) => `${o.n}. ${o.starts}: ${o.yes || 0} yes, ${o.maybe || 0} if need be`);
  return `#${m.number} · ${m.title}\n${lines.join('\n')}`;
}

function rsvpText(m) {
  const n = { yes: 0, maybe: 0, no: 0 };
  for (const r of q.rsvps.all(m.id)) n[r.answer] = r.n;
  return `#${m.number} · ${m.title}: ${n.yes} coming${m.max ? ` of ${m.max}` : ''}, ${n.maybe} maybe, ${n.no} not`;
}

// Each command is one transaction: the chat's and user's rows, the effect.
const propose = db.transaction((ctx, title, dates, max) => {
  const ids = who(ctx);
  const number = q.nextNumber.get(ids.chat).n;
  const id = q.addMeetup.run(ids.chat, number, title, max, ids.user).lastInsertRowid;
  dates.forEach((d, i) => q.addOption.run(id, i + 1, d));
  return { id, number, title, max };
});

const vote = db.transaction((ctx, number, picks) => {
  const ids = who(ctx);
  const m = q.meetup.get(ids.chat, number);
  if (!m) return null;
  const options = q.options.all(m.id);
  q.unvote.run(ids.user, m.id);
  for (const p of picks) {
    const o = options[Number.parseInt(p, 10) - 1];
    if (o) q.vote.run(o.id, ids.user, p.endsWith('?') ? 'maybe' : 'yes');
  }
  return tallyText(m);
});

const rsvp = db.transaction((ctx, number, answer) => {
  const ids = who(ctx);
  const m = q.meetup.get(ids.chat, number);
  if (!m) return null;
  q.rsvp.run(m.id, ids.user, answer);
  return rsvpText(m);
});

const bot = new Bot('123456:BENCH', { client: { apiRoot } });

const lookup = db.transaction(who);

bot.command('meetup', async (ctx) => {
  const [first, arg] = ctx.match.split(/\s+/);
  if (first === 'list') {
    const ids = lookup(ctx);
    const rows = q.list.all(ids.chat);
    return ctx.reply(rows.map((r) => `#${r.number} · ${r.title}`).join('\n') || 'No meetup.');
  }
  if (first === 'info') {
    const ids = lookup(ctx);
    const m = q.meetup.get(ids.chat, Number(arg));
    return ctx.reply(m ? `${tallyText(m)}\n${rsvpText(m)}` : 'No such meetup.');
  }
  const parts = ctx.match.split(';').map((s) => s.trim());
  const max = parts.length > 1 && parts[parts.length - 1].startsWith('max:') ? Number(parts.pop().slice(4)) : null;
  const m = propose(ctx, parts[0], parts.slice(1), max);
  return ctx.reply(`${tallyText(m)}\nVote with /vote #${m.number} and the numbers that suit you.`);
});

bot.command('poll', async (ctx) => {
  const ids = lookup(ctx);
  const m = q.meetup.get(ids.chat, Number(ctx.match));
  return ctx.reply(m ? tallyText(m) : 'No such poll.');
});

bot.command('vote', async (ctx) => {
  const [number, ...picks] = ctx.match.split(/\s+/);
  const text = vote(ctx, Number(number.replace('#', '')), picks);
  return ctx.reply(text || 'No such poll.');
});

bot.command('rsvp', async (ctx) => {
  const [number, answer] = ctx.match.split(/\s+/);
  const text = rsvp(ctx, Number(number), answer);
  return ctx.reply(text || 'No such meetup.');
});

bot.command('help', (ctx) => ctx.reply('/meetup TITLE; DATE; DATE… proposes a meetup; /vote #N 1 2? votes; '
  + '/rsvp N yes|no|maybe answers; /meetup list, /meetup info N, /poll N show them.'));

bot.catch((err) => console.error(err.error));
process.once('SIGTERM', () => bot.stop());
bot.start({ onStart: () => console.log('ready') });

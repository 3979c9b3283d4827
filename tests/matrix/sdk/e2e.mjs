#!/usr/bin/env node
// End to end with matrix-js-sdk (npm, pinned in package-lock.json), the
// client library Element is built on, playing the room's members against
// the fake homeserver (../fake_homeserver.py): what the bot sends is read
// by a real client's parsers and models, and what the members send is what
// that client sends.  No homeserver can be installed here (Synapse, Conduit
// and Dendrite are neither in Debian 12 nor on npm), so this is the real
// third-party peer the Matrix side can have.
//
// The scenario, in French: Alice creates a room and invites the bot, which
// joins and greets it; Bob, Chloé and Dan join through Alice's invites;
// !rencontre with three dates becomes a poll that the SDK's PollStartEvent
// accepts and its Room turns into a Poll model; the members answer with
// PollResponseEvent, as Element does (Chloé changes her answer, Dan
// withdraws); the bot's tally agrees; !rencontre clore ends the poll, and
// the SDK's Poll model sees it ended; Dan answers the announcement with a
// ✅ reaction and takes it back with a redaction, and the SDK applies the
// bot's edits of the announcement, the only answer to them; a command in a thread is answered in
// it; the reminder an hour before pings those
// who come, by the push rules the SDK evaluates; and !exporter moi opens a
// direct chat that Bob's client files as one.  Prints "N passed, N failed".
// Usage: node e2e.mjs ENSEMBLE
import * as sdk from 'matrix-js-sdk';
import { logger } from 'matrix-js-sdk/lib/logger.js';
import { PollStartEvent } from 'matrix-js-sdk/lib/extensible_events_v1/PollStartEvent.js';
import { PollResponseEvent } from 'matrix-js-sdk/lib/extensible_events_v1/PollResponseEvent.js';
import { PollEndEvent } from 'matrix-js-sdk/lib/extensible_events_v1/PollEndEvent.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const binary = process.argv[2];
const here = path.dirname(fileURLToPath(import.meta.url));
const BOT = '@ensemble:test.local';
let passed = 0;
let failed = 0;

// The SDK logs through console's error, warn, info, debug and trace (its
// own errors included, such as a state event seen before its room is
// stored): into a file, shown when a check fails.  Ours go to stdout.
const sdkLog = [];
for (const level of ['error', 'warn', 'info', 'debug', 'trace']) {
  console[level] = (...args) => { sdkLog.push(`${level}: ${args.join(' ')}`); };
}
logger.setLevel('warn');
const say = (line) => process.stdout.write(`${line}\n`);

function check(cond, what) {
  if (cond) passed += 1;
  else { failed += 1; say(`FAIL: ${what}`); }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// Polls fn until it returns something truthy (a non-empty array counts),
// for at most ms; a timeout is a failed check, and the answer is null.
async function waitFor(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v && (!Array.isArray(v) || v.length)) return v;
    if (Date.now() > end) { check(false, `timed out waiting for ${what}`); return null; }
    await sleep(50);
  }
}

const procs = [];
process.on('exit', () => { for (const p of procs) p.kill('SIGKILL'); });

async function main() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const fake = spawn('python3', [path.join(here, '..', 'fake_homeserver.py'), String(port)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(fake);
  await new Promise((resolve) => readline.createInterface({ input: fake.stdout }).once('line', resolve));
  const control = async (p, body) => (await fetch(base + p, { method: 'POST', body: JSON.stringify(body) })).json();

  // A member: a password at the fake, then a real client logged in and syncing.
  async function member(name) {
    const user = `@${name}:test.local`;
    await control('/control/user', { user, password: `${name}-secret` });
    const anon = sdk.createClient({ baseUrl: base });
    const r = await anon.loginRequest({ type: 'm.login.password',
      identifier: { type: 'm.id.user', user: name }, password: `${name}-secret` });
    const c = sdk.createClient({ baseUrl: base, userId: r.user_id, accessToken: r.access_token,
      deviceId: r.device_id });
    const prepared = new Promise((resolve) => c.on(sdk.ClientEvent.Sync, (s) => { if (s === 'PREPARED') resolve(); }));
    await c.startClient({ initialSyncLimit: 100 });
    await prepared;
    return c;
  }

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-mxsdk-'));
  // Removed however the script ends (the log is printed on a failure).
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const conf = path.join(tmp, 'ensemble.conf');
  fs.writeFileSync(conf, `[general]\ndb = ${path.join(tmp, 'm.db')}\nlang = fr\ntimezone = Europe/Paris\n`
    + `[matrix]\nhomeserver = ${base}\nuser = ${BOT}\npassword = bot-pass\nsync_timeout = 2\n`
    + 'room_interval_ms = 0\n', { mode: 0o600 });
  const log = fs.openSync(path.join(tmp, 'bot.log'), 'w');
  // The bot's clock starts at 17:59:50 on the day of the first date, so
  // the reminder an hour before its 19:00 falls due ten seconds in.
  const bot = spawn(binary, ['--config', conf, '--clock=real', '--now', '2026-12-10T17:59:50', '-v'],
    { stdio: ['ignore', log, log] });
  procs.push(bot);

  const [alice, bob, chloe, dan] = await Promise.all(['alice', 'bob', 'chloe', 'dan'].map(member));

  // What a client has of the room: its live timeline, edits applied.
  const timeline = (c, room) => c.getRoom(room)?.getLiveTimeline().getEvents() ?? [];
  const fromBot = (c, room, type) => timeline(c, room).filter((e) => e.getSender() === BOT
    && e.getType() === type);
  const notices = (c, room) => fromBot(c, room, 'm.room.message').filter((e) => !e.isRelation('m.replace'));
  const repliesTo = (c, room, id) => notices(c, room).filter((e) => e.replyEventId === id);
  async function post(c, room, body) {
    return (await c.sendMessage(room, { msgtype: 'm.text', body })).event_id;
  }

  // Alice creates the room and invites the bot; it joins and greets.
  const { room_id: room } = await alice.createRoom({ name: 'Café-rencontre', invite: [BOT] });
  const greet = await waitFor(() => notices(alice, room), 'the greeting');
  if (greet) {
    const g = greet[0].getContent();
    check(g.body.includes('Ensemble') && g.body.includes('!aide'), 'the greeting, in French, with ! commands');
    check(g.format === 'org.matrix.custom.html' && g.formatted_body.includes('<b>Ensemble</b>'),
      'the greeting is HTML with a plain body');
  }
  check(alice.getRoom(room)?.getMember(BOT)?.membership === 'join', 'the SDK sees the bot joined');

  // The others join through Alice's invites, as Element's users would.
  for (const c of [bob, chloe, dan]) {
    await alice.invite(room, c.getUserId());
    await waitFor(() => c.getRoom(room)?.getMyMembership() === 'invite', `${c.getUserId()}'s invite`);
    await c.joinRoom(room);
  }
  await waitFor(() => alice.getRoom(room)?.getJoinedMemberCount() === 5, 'five members');

  // The proposal: details, then the poll, as Bob's client reads them.
  await post(alice, room, '!rencontre Apéro <b>& co</b>; 2026-12-10 19:00; 2026-12-11 19:00; '
    + '2026-12-12 19:00; lieu: Café');
  const starts = await waitFor(() => fromBot(bob, room, 'org.matrix.msc3381.poll.start'), 'the poll start');
  // The details are a post to the room, not a reply: everyone is asked.
  const details = notices(bob, room).filter((e) => e.getContent().body.includes('Apéro'));
  check(details.length && details[0].getContent().formatted_body.includes('Apéro &lt;b&gt;&amp; co&lt;/b&gt;'),
    'the details: user text escaped in the HTML');
  if (!starts) return;
  const pollEv = starts[0];
  let start = null;
  try {
    start = new PollStartEvent({ type: pollEv.getType(), content: pollEv.getContent() });
  } catch (e) {
    check(false, `PollStartEvent refuses the bot's poll: ${e.message}`);
    return;
  }
  check(start.question.text.includes('Apéro <b>& co</b>'), 'the question is the title, as text');
  check(start.kind.name === 'org.matrix.msc3381.poll.disclosed', 'a disclosed poll');
  check(start.maxSelections === 3, 'max_selections is the number of dates');
  check(start.answers.length === 3 && start.answers[0].text.includes('jeudi 10 décembre')
    && start.answers[2].text.includes('samedi 12 décembre'), 'the answers are the dates, in French');
  const poll = await waitFor(() => bob.getRoom(room)?.polls.get(pollEv.getId()), 'the SDK\'s Poll model');
  const ids = start.answers.map((a) => a.id);

  // The answers, as Element sends them.
  async function answer(c, picks) {
    const r = PollResponseEvent.from(picks, pollEv.getId()).serialize();
    await c.sendEvent(room, r.type, r.content);
  }
  await answer(bob, [ids[0], ids[1]]);
  await answer(chloe, [ids[1]]);
  await answer(dan, [ids[1], ids[2]]);
  await sleep(300);
  await answer(chloe, [ids[0]]);
  await answer(dan, []);
  await sleep(500);
  const tallyCmd = await post(alice, room, '!sondage 1');
  const tally = await waitFor(() => repliesTo(alice, room, tallyCmd), 'the tally');
  if (tally) {
    const lines = tally[0].getContent().body.split('\n');
    const under = (n) => lines[lines.findIndex((l) => l.trim().startsWith(`${n}.`)) + 1] || '';
    check(under(1).includes('oui (2) : Bob, Chloe'), `date 1: Bob and Chloé's changed answer (${under(1)})`);
    check(under(2).includes('oui (1) : Bob'), `date 2: Bob only, Chloé moved and Dan withdrew (${under(2)})`);
    check(!under(3).includes('oui'), `date 3: Dan's withdrawn answer is gone (${under(3)})`);
  }
  // The same question in a thread, as Element sends it there: answered in
  // the thread, as a reply to the command (not a fallback).
  const root = await post(alice, room, 'Qui vient jeudi ?');
  const { event_id: inThread } = await bob.sendMessage(room, root, { msgtype: 'm.text', body: '!sondage 1' });
  const threaded = await waitFor(() => repliesTo(alice, room, inThread), 'the answer in the thread');
  if (threaded) {
    const rel = threaded[0].getWireContent()['m.relates_to'];
    check(threaded[0].threadRootId === root && rel.is_falling_back === false,
      `the answer is in the thread, a real reply (${JSON.stringify(rel)})`);
  }
  if (poll) {
    const responses = await poll.getResponses();
    check(responses.getRelations().length === 5, 'the SDK reads the five answers from /relations');
  }

  // Closing: the poll end, which the SDK's model accepts, and the announcement.
  await post(alice, room, '!rencontre clore 1');
  const ends = await waitFor(() => fromBot(bob, room, 'org.matrix.msc3381.poll.end'), 'the poll end');
  if (ends) {
    let end = null;
    try {
      end = new PollEndEvent({ type: ends[0].getType(), content: ends[0].getContent() });
    } catch (e) {
      check(false, `PollEndEvent refuses the bot's end: ${e.message}`);
    }
    check(end && end.pollEventId === pollEv.getId(), 'the end closes the poll');
    check(end && end.closingMessage.text.includes('jeudi 10 décembre'), `the end says the date chosen (${end?.closingMessage.text})`);
  }
  if (poll) await waitFor(() => poll.isEnded, 'the SDK\'s Poll model ended');
  const annOf = (c) => notices(c, room).filter((e) => e.getOriginalContent().body?.includes('aura lieu'));
  const ann = await waitFor(() => annOf(alice), 'the announcement');
  if (!ann) return;
  const annEv = ann[0];
  check(annEv.getContent().body.includes('Viennent (2) : Bob, Chloe'), 'Bob and Chloé are coming');
  const rx = await waitFor(() => {
    const r = fromBot(alice, room, 'm.reaction').filter((e) => e.relationEventId === annEv.getId());
    return r.length >= 3 ? r : null;
  }, 'the bot\'s reactions');
  check(rx && ['✅', '❔', '❌'].every((k) => rx.some((e) => e.getRelation()?.key === k)),
    'the three RSVP reactions under the announcement');

  // Dan says yes with ✅, as Element sends a reaction; the bot edits the
  // announcement, which the SDK shows edited, and posts nothing else.
  let n = notices(alice, room).length;
  const { event_id: reaction } = await dan.sendEvent(room, 'm.reaction', {
    'm.relates_to': { rel_type: 'm.annotation', event_id: annEv.getId(), key: '✅' } });
  await waitFor(() => annEv.replacingEventId() && annEv.getContent().body.includes('Dan'),
    'the announcement edited with Dan');
  check(annEv.getContent().body.includes('Viennent (3)') && !annEv.getOriginalContent().body.includes('Dan'),
    'a ✅ reaction is a yes: the SDK applies the edit, three coming, the original kept');
  check(notices(alice, room).length === n, 'a reaction posts no notice');

  // Dan takes his ✅ back: a redaction, as Element sends it; he has no
  // answer any more.
  await dan.redactEvent(room, reaction);
  await waitFor(() => annEv.getContent().body.includes('Viennent (2)'), 'the announcement edited back to two');
  check(!annEv.getContent().body.includes('Dan'), 'taking the ✅ back: Dan neither comes nor says no');
  check(notices(alice, room).length === n, 'nor does its redaction post a notice');

  // The reminder names those who come in m.mentions and is an m.text, so
  // their clients notify and highlight it (by the specification's push
  // rules, which the fake serves); a reply, an m.notice, notifies nobody.
  const reminders = (c) => fromBot(c, room, 'm.room.message').filter((e) => !e.isRelation('m.replace')
    && e.getContent()['m.mentions']?.user_ids?.length);
  const rem = await waitFor(() => reminders(chloe), 'the reminder', 20000);
  if (rem) {
    const named = rem[0].getContent()['m.mentions'].user_ids;
    check(named.includes(bob.getUserId()) && named.includes(chloe.getUserId()) && !named.includes(dan.getUserId()),
      `the reminder names Bob and Chloé, not Dan (${named})`);
    check(rem[0].getContent().msgtype === 'm.text', 'the reminder is an m.text');
    const a = chloe.getPushActionsForEvent(rem[0]);
    check(a?.notify && a.tweaks?.highlight, 'Chloé\'s client notifies her of the reminder, highlighted');
    const d = (await waitFor(() => reminders(dan), 'the reminder on Dan\'s client'))?.[0];
    const da = d && dan.getPushActionsForEvent(d);
    check(da && !da.tweaks?.highlight, 'Dan, who does not come, is not highlighted');
  }
  if (tally) {
    const t = alice.getPushActionsForEvent(tally[0]);
    check(tally[0].getContent().msgtype === 'm.notice' && t && !t.notify,
      'a reply is an m.notice, which Alice\'s client does not notify');
  }

  // A private answer: the bot opens a direct chat, which Bob's client
  // files as one (is_direct in his invite), and the export is there.
  const known = new Set(bob.getRooms().map((r) => r.roomId));
  const exp = await post(bob, room, '!exporter moi');
  await waitFor(() => repliesTo(bob, room, exp), 'the public half of !exporter moi');
  const dm = await waitFor(() => bob.getRooms().find((r) => !known.has(r.roomId)
    && r.getMyMembership() === 'invite'), 'the invite to a direct chat');
  if (dm) {
    check(dm.getDMInviter() === BOT, 'Bob\'s client sees a direct chat from the bot');
    await bob.joinRoom(dm.roomId);
    const priv = await waitFor(() => notices(bob, dm.roomId), 'the private message');
    check(priv && priv[0].getContent().body.includes('"votes"'), 'the export arrives in the direct chat');
  }

  for (const c of [alice, bob, chloe, dan]) c.stopClient();
  bot.kill('SIGTERM');
  const code = await new Promise((resolve) => bot.once('exit', (c) => resolve(c)));
  check(code === 0, `the bot stops cleanly (exit ${code})`);
  if (failed) {
    say(fs.readFileSync(path.join(tmp, 'bot.log'), 'utf8').split('\n').slice(-30).join('\n'));
    say(sdkLog.slice(-20).join('\n'));
  }
}

main().catch((e) => { check(false, `exception: ${e.stack || e}`); }).finally(() => {
  say(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});

#!/usr/bin/env node
// End to end against telegram-test-api (npm, pinned in package-lock.json),
// a third-party emulator of the Telegram Bot API: the real binary polls it,
// and its client API plays a French group.  /start, /rencontre with three
// dates, /vote from three people, /sondage, /rencontre clore with its RSVP
// buttons, button presses (answered by the announcement's edit), and the
// replies checked.  The emulator has no sendPoll, getChatAdministrators or
// setMyCommands (it answers 500), so the bot runs with native_polls = 0
// here; the fake Bot API of tests/telegram covers those.
// Prints "N passed, N failed".  Usage: node e2e.js ENSEMBLE
'use strict';
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');
const TelegramServer = require('telegram-test-api');

const binary = process.argv[2];
const TOKEN = '424242:TTA-test-token';
const CHAT = -1001777000111;
let passed = 0;
let failed = 0;

function check(cond, what) {
  if (cond) passed += 1;
  else { failed += 1; console.log(`FAIL: ${what}`); }
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const port = await freePort();
  const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });
  await server.start();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ensemble-tta-'));
  // Removed however the script ends (the log is printed on a failure).
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  const conf = path.join(tmp, 'ensemble.conf');
  fs.writeFileSync(conf, `[general]\ndb = ${path.join(tmp, 't.db')}\nlang = fr\ntimezone = Europe/Paris\n`
    + `[telegram]\ntoken = ${TOKEN}\napi_url = ${server.config.apiURL}\npoll_timeout = 1\n`
    + 'chat_interval_ms = 0\nnative_polls = 0\n', { mode: 0o600 });
  const logPath = path.join(tmp, 'bot.log');
  const log = fs.openSync(logPath, 'w');
  const bot = spawn(binary, ['--config', conf, '-v'], { stdio: ['ignore', log, log] });

  const people = {};
  const client = (id, name) => {
    people[name] = server.getClient(TOKEN, { chatId: CHAT, type: 'supergroup', chatTitle: 'Café-rencontre',
      userId: id, firstName: name, userName: name.toLowerCase(), timeout: 8000, interval: 50 });
    return people[name];
  };
  const alice = client(1, 'Alice');
  const bob = client(2, 'Bob');
  const chloe = client(3, 'Chloé');
  const dan = client(4, 'Dan');
  const seen = [];
  let cursor = 0;
  // The next bot message to the group that pred accepts, after the last one
  // found (the emulator hands each message once: they are kept in seen).
  async function botSays(pred, what) {
    const end = Date.now() + 10000;
    for (;;) {
      const i = seen.findIndex((m, k) => k >= cursor && pred(m.text || ''));
      if (i >= 0) { cursor = i + 1; return seen[i]; }
      if (Date.now() > end) { check(false, `timed out waiting for ${what}`); return null; }
      try {
        const u = await alice.getUpdates();
        for (const r of u.result) seen.push(r.message);
      } catch (e) { /* no update in time: look again */ }
    }
  }
  async function command(who, text) {
    await who.sendCommand(who.makeCommand(text));
  }

  await command(alice, '/start');
  const hello = await botSays((t) => t.includes('Bonjour'), 'the answer to /start');
  check(hello && hello.parse_mode === 'HTML', 'replies in HTML parse mode');
  check(hello && String(hello.chat_id) === String(CHAT), 'the answer goes to the group');

  await command(alice, '/rencontre Apéro <b>& co</b>; demain 19h; après-demain 19h; samedi 10h; lieu: Café');
  const details = await botSays((t) => t.includes('Apéro'), 'the meetup');
  check(details && details.text.includes('Apéro &lt;b&gt;&amp; co&lt;/b&gt;'), 'user text escaped in HTML');
  check(details && details.text.includes('19 h 00'), 'dates in French');

  await command(bob, '/vote 1 2');
  const v1 = await botSays((t) => t.startsWith('Vote enregistré'), "Bob's vote");
  check(v1 && v1.text.includes('oui pour') && v1.reply_to_message_id !== undefined || (v1 && v1.reply_parameters),
    'a vote is confirmed in reply');
  await command(chloe, '/vote 1');
  await botSays((t) => t.startsWith('Vote enregistré'), "Chloé's vote");
  await command(alice, '/vote 1 3?');
  const v3 = await botSays((t) => t.startsWith('Vote enregistré'), "Alice's vote");
  check(v3 && v3.text.includes('si besoin pour'), 'an if-need-be vote');
  await command(alice, '/sondage');
  const tally = await botSays((t) => /oui \(3\)/.test(t), 'the tally');
  check(tally && tally.text.includes('Alice') && tally.text.includes('Bob') && tally.text.includes('Chloé'),
    'the tally names the three voters of date 1');

  await command(alice, '/rencontre clore');
  const ann = await botSays((t) => t.includes('aura lieu'), 'the announcement');
  const kb = ann && ann.reply_markup && ann.reply_markup.inline_keyboard;
  check(kb && kb[0].map((b) => b.text).join('|') === 'Oui|Peut-être|Non', 'RSVP buttons in French');
  if (kb) {
    const press = async (who, k) => who.sendCallback(who.makeCallbackQuery(kb[0][k].callback_data, {
      message: { message_id: ann.message_id, chat: { id: CHAT, type: 'supergroup' } } }));
    // A press is answered by its toast and the announcement's edit: it
    // posts nothing in the group.
    const stored = server.storage.botMessages.find((m) => (m.message.text || '').includes('aura lieu'));
    const shown = () => {
      const u = stored && server.storage.botMessages.find((m) => m.messageId === stored.messageId);
      return u ? u.message.text || '' : '';
    };
    const edited = async (pred) => {
      const end = Date.now() + 10000;
      while (!pred(shown()) && Date.now() < end) await sleep(100);
      return pred(shown());
    };
    const posted = server.storage.botMessages.length;
    await press(dan, 0);
    check(await edited((t) => /Viennent \(4\) : .*Dan/.test(t)),
      'the Yes button counts Dan in, beside the three voters, in the announcement');
    await press(bob, 0);
    await press(chloe, 2);
    check(await edited((t) => t.includes('Ne viennent pas : Chloé')), 'the No button, in the announcement');
    await sleep(500);
    check(server.storage.botMessages.length === posted, 'the presses post nothing in the group');
  }

  bot.kill('SIGTERM');
  const code = await new Promise((r) => bot.on('exit', (c) => r(c)));
  check(code === 0, 'a clean stop');
  await server.stop();
  const text = fs.readFileSync(logPath, 'utf8');
  check(!text.includes(TOKEN), 'the token is not logged');
  console.log(`${passed} passed, ${failed} failed`);
  if (failed) console.log(text.slice(-3000));
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.log(`FAIL: ${e.stack}`); process.exit(1); });

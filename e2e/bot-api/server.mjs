// An independent Telegram Bot API for the e2e conversation test: the npm
// emulator `telegram-test-api` (pinned in package-lock.json), on loopback.
//
// usage:  node server.mjs [--port N]      (or PORT=N; 0 or neither: a free port)
// stdout: one line, `READY http://127.0.0.1:<port>`, once it listens.
// stderr: the emulator's own log (DEBUG=TelegramServer:* to see it).
// Exits when its stdin closes (the test that started it is gone) or on
// SIGTERM / SIGINT.
//
// The bot side is the Bot API at /bot<token>/<method> (getUpdates,
// deleteWebhook, sendMessage, editMessageText, editMessageReplyMarkup,
// answerCallbackQuery, ...); the user side is the emulator's own client
// API: POST /sendMessage, /sendCommand, /sendCallback (a user's update) and
// /getUpdatesHistory (everything the bot sent, with edits applied).
//
// Three places where the emulator's output is not what the Bot API
// specifies, and which a typed client (teloxide) cannot read, are made to
// conform here; what it stores and hands out is otherwise untouched.
// BOT_API_AS_IS=1 runs the emulator exactly as published instead.
//   1. A callback query's update lacks `chat_instance` (the emulator
//      forwards only id, from, message and data); the Bot API always sends
//      it. The client's `chat_instance` is forwarded as sent.
//   2. editMessageText and editMessageReplyMarkup answer
//      `{"ok": true, "result": null}`; the Bot API answers the edited
//      Message. They answer the message as the emulator now stores it.
//   3. answerCallbackQuery answers `result: null`; the Bot API: `true`.

import { createRequire } from 'node:module';

import TelegramServer from 'telegram-test-api';

const require = createRequire(import.meta.url);

const HOST = '127.0.0.1';
/** Nothing the test stores may expire while it runs (the default is 60 s). */
const STORE_SECONDS = 24 * 60 * 60;

function requestedPort() {
  const flag = process.argv.indexOf('--port');
  const raw = flag >= 0 ? process.argv[flag + 1] : process.env.PORT;
  if (raw === undefined || raw === '') return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`server.mjs: not a port: ${raw}\n`);
    process.exit(2);
  }
  return port;
}

const asIs = process.env.BOT_API_AS_IS === '1';

if (!asIs) {
  const formatUpdate = TelegramServer.formatUpdate;
  TelegramServer.formatUpdate = (update) => {
    const formatted = formatUpdate(update);
    const instance = update.callbackQuery?.chat_instance;
    if (formatted.callback_query && instance !== undefined) {
      formatted.callback_query.chat_instance = String(instance);
    }
    return formatted;
  };
}

/** The Bot API's Message for a stored bot message, as sendMessage answers it. */
function asMessage(stored) {
  const { message } = stored;
  const markup = message.reply_markup;
  const result = {
    ...message,
    message_id: stored.messageId,
    date: Math.floor(stored.time / 1000),
    edit_date: Math.floor(Date.now() / 1000),
    chat: { id: Number(message.chat_id), first_name: 'Bot', type: 'private' },
    reply_markup: markup && 'inline_keyboard' in markup ? markup : undefined,
  };
  delete result.chat_id;
  return result;
}

/** `data` with the result the Bot API gives for the method `req` called. */
function conform(server, req, data) {
  if (data?.ok !== true || data.result !== null) return data;
  const method = req.path.split('/').pop().toLowerCase();
  if (method === 'answercallbackquery') return { ...data, result: true };
  if (method === 'editmessagetext' || method === 'editmessagereplymarkup') {
    const body = req.body ?? {};
    const stored = server.storage.botMessages.find(
      (m) => String(m.messageId) === String(body.message_id)
        && String(m.message.chat_id) === String(body.chat_id),
    );
    if (stored) return { ...data, result: asMessage(stored) };
  }
  return data;
}

if (!asIs) {
  // Every route answers through `res.sendResult`, which the emulator's
  // first middleware (this module's export, read when the server is built)
  // puts on the response; it is wrapped to pass the answer through
  // `conform`.
  const sendResultModule = require('telegram-test-api/lib/modules/sendResult');
  const install = sendResultModule.sendResult;
  sendResultModule.sendResult = (req, res, next) => install(req, res, () => {
    const send = res.sendResult;
    res.sendResult = (data) => send(conform(server, req, data));
    next();
  });
}

const port = requestedPort();
const server = new TelegramServer({ host: HOST, port: port || 9000, storeTimeout: STORE_SECONDS });
// The emulator reads port 0 as "unset" (9000); ask for a free port after it.
server.config.port = port;
try {
  await server.start();
} catch (e) {
  process.stderr.write(`server.mjs: cannot listen on ${HOST}:${port}: ${e.message}\n`);
  process.exit(1);
}
const { port: bound } = server.server.address();
process.stdout.write(`READY http://${HOST}:${bound}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();

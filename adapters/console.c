/*
 * console: a chat in the terminal, for trying the bot without an account
 * anywhere and for end-to-end tests.
 *
 * Input, one line each:
 *   USER: TEXT          a message from USER in the console chat
 *   USER@CHAT: TEXT     a message from USER in chat CHAT
 *   USER@@USER: TEXT    a message from USER in their private chat with the
 *                       bot (the chat "@USER", where private messages print)
 *   ~ +DURATION         simulated time moves on (--clock=sim): ~ +2h, ~ +1d
 *   ~ YYYY-MM-DDTHH:MM  simulated time moves to that local time
 *   # comment           ignored, as are empty lines
 * Output: "[CHAT] bot: TEXT", continuation lines indented by two spaces.
 * With [console] marks = 1, "#done 0" follows what the bot printed as it
 * started, and "#done N" everything input line N caused (console__mark);
 * "#edit REF" comes before each edit, naming the message it changes, so
 * that the transcript runner knows which edits a batch of several lines
 * would make once (tests/run_transcript.py).
 * At the end of input, pending work finishes and the bot exits 0.
 */
#include "adapters/adapter.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bot/action.h"
#include "bot/bot.h"
#include "bot/dates.h"
#include "config/config.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/strbuf.h"
#include "lib/tz.h"

#define LOG_MODULE "console"

/* A line longer than this is cut (and the cut logged): no input can make
 * the console allocate without bound. */
#define CONSOLE_MAX_LINE (1024 * 1024)
/* Messages read in one go run as one batch (one transaction), up to this
 * many: a read brings at most 64 KiB, about 1,500 short lines, and one
 * commit for 1,024 of them rather than 256 saves a tenth of the time of
 * the dispatcher benchmark (random votes dirty pages all over the file). */
#define CONSOLE_BATCH 2048

/* The values of [console], owned by the configuration (config_values). */
struct console_config {
	char *chat; /* the chat of "USER: TEXT" lines; "console" */
	int marks;  /* 1: "#done N" after each input line; 0 */
};

/* clang-format off: a table reads best one row to a line */
static const struct config_key console__config_keys[] = {
	{ .name = "chat",
	  .type = CONFIG_STR,
	  .offset = offsetof(struct console_config, chat),
	  .def = "console",
	  .check = config_check_word },
	{ .name = "marks",
	  .type = CONFIG_INT,
	  .offset = offsetof(struct console_config, marks),
	  .def = "0",
	  .min = 0,
	  .max = 1 },
};
/* clang-format on */

/* The console's section of the configuration, [console]: an adapter
 * declares its keys as this, and reads them with config_values(). */
static const struct config_section console__config_section = {
	.name = "console",
	.size = sizeof(struct console_config),
	.keys = console__config_keys,
	.nkeys = sizeof(console__config_keys) / sizeof(console__config_keys[0]),
};

struct console_msg {
	char *user, *chat, *text; /* one allocation, at user */
	char id[24];
	time_t time;
};

struct console {
	struct adapter *a;
	const struct console_config *cfg; /* [console], borrowed from the bot's */
	union {
		uv_tty_t tty;
		uv_pipe_t pipe;
		uv_idle_t idle; /* regular files and /dev/null: read() */
	} in;
	enum { CONSOLE_TTY, CONSOLE_PIPE, CONSOLE_FILE } mode;
	bool reading;
	bool closed;   /* the input handle is closing or closed */
	bool overlong; /* the current line was cut */
	struct strbuf line;
	unsigned long lineno;
	unsigned long seq; /* message ids */
	struct console_msg pending[CONSOLE_BATCH];
	struct event evs[CONSOLE_BATCH]; /* the pending messages as events */
	size_t npending;
	char readbuf[65536];
};

static bool console__configured(const struct config *cfg)
{
	(void)cfg;
	return false; /* only --console starts it */
}

/* "~ +2h" or "~ 2026-12-03T19:00": moves the simulated clock. */
static void console__clock_line(struct console *c, const char *arg)
{
	struct bot *b = c->a->bot;
	while(*arg == ' ')
		arg++;
	if(!clock_is_sim()) {
		log_warn("line %lu: the clock is real; start with --clock=sim to move it", c->lineno);
		return;
	}
	int64_t target;
	if(*arg == '+') {
		int minutes;
		if(date_parse_duration(arg + 1, &minutes)) {
			log_warn("line %lu: '%s' is not a duration (like +2h, +1d, +30m)", c->lineno, arg);
			return;
		}
		target = clock_now_ms() + (int64_t)minutes * 60000;
	} else {
		struct tm tm = { 0 };
		int y, mo, d, h, mi;
		char extra;
		time_t t;
		if(sscanf(arg, "%d-%d-%dT%d:%d%c", &y, &mo, &d, &h, &mi, &extra) != 5) {
			log_warn("line %lu: expected ~ +DURATION or ~ YYYY-MM-DDTHH:MM", c->lineno);
			return;
		}
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		/* A 32 December or a month 13 would be carried over by the
		 * conversion; as calendar arithmetic in UTC, any carrying shows. */
		struct tm check = tm;
		time_t as_utc = timegm(&check);
		gmtime_r(&as_utc, &check);
		if(mo < 1 || mo > 12 || h < 0 || h > 23 || mi < 0 || mi > 59 || check.tm_mday != d ||
		   check.tm_mon != mo - 1) {
			log_warn("line %lu: %.16s is not a date and time; the clock stays", c->lineno, arg);
			return;
		}
		enum tz_result r = tz_mktime(b->cfg->timezone, &tm, &t);
		if(r == TZ_GAP) {
			log_warn("line %lu: %.16s does not exist in %s (the clocks skip it); the clock stays",
			         c->lineno, arg, b->cfg->timezone);
			return;
		}
		if(r != TZ_OK && r != TZ_AMBIGUOUS) {
			log_warn("line %lu: the time zone %s cannot be read; the clock stays", c->lineno,
			         b->cfg->timezone);
			return;
		}
		target = (int64_t)t * 1000;
		if(target < clock_now_ms()) {
			log_warn("line %lu: time does not go back", c->lineno);
			return;
		}
	}
	bot_advance_to(b, target);
}

/* Runs the messages read so far as one batch. */
static void console__flush(struct console *c)
{
	if(!c->npending)
		return;
	struct event *evs = c->evs;
	for(size_t i = 0; i < c->npending; i++) {
		struct console_msg *m = &c->pending[i];
		evs[i] = (struct event){
			.kind = EVENT_MESSAGE,
			.platform = "console",
			.chat_id = m->chat,
			.sender_id = m->user,
			.sender_name = m->user,
			.message_id = m->id,
			.text = m->text,
			.time = m->time,
			.role = ROLE_UNKNOWN,
			.is_private = m->chat[0] == '@',
		};
	}
	bot_handle_batch(c->a->bot, evs, c->npending, NULL, NULL);
	for(size_t i = 0; i < c->npending; i++)
		free(c->pending[i].user);
	c->npending = 0;
}

static void console__message_line(struct console *c, char *line)
{
	char *colon = strstr(line, ": ");
	if(!colon && (colon = strchr(line, ':')) && colon[1])
		colon = NULL; /* "a:b" is not "USER: TEXT"; "USER:" alone is */
	if(!colon || colon == line) {
		log_warn("line %lu: expected 'USER: TEXT' or 'USER@CHAT: TEXT'", c->lineno);
		return;
	}
	*colon = '\0';
	const char *text = colon[1] ? colon + 2 : "";
	const char *user = line;
	const char *chat = c->cfg->chat;
	char *at = strchr(line, '@');
	if(at) {
		*at = '\0';
		chat = at + 1;
	}
	if(!*user || !*chat || strchr(user, ' ') || strchr(chat, ' ')) {
		log_warn("line %lu: a user and a chat are single words", c->lineno);
		return;
	}
	if(c->npending == CONSOLE_BATCH)
		console__flush(c);
	struct console_msg *m = &c->pending[c->npending];
	/* The three strings in one block: a batch holds up to CONSOLE_BATCH
	 * of them. */
	size_t lu = strlen(user) + 1, lc = strlen(chat) + 1, lt = strlen(text) + 1;
	m->user = malloc(lu + lc + lt);
	if(!m->user) {
		log_error("out of memory: line %lu dropped", c->lineno);
		return;
	}
	m->chat = memcpy(m->user + lu, chat, lc);
	m->text = memcpy(m->chat + lc, text, lt);
	memcpy(m->user, user, lu);
	snprintf(m->id, sizeof(m->id), "%lu", ++c->seq);
	m->time = clock_now();
	c->npending++;
}

/* Ends input line c->lineno for a program that drives the console (the
 * transcript tests): its message, if any, runs now rather than in a batch
 * with the lines read after it, then "#done N" is printed.  Nothing that
 * line caused can come later: a batch is run and delivered before
 * bot_handle_batch() returns, the jobs a clock line makes due before
 * bot_advance_to() returns, and the console prints as it delivers.  No
 * reply starts with '#' ("[CHAT] bot: ", or two spaces), so a mark cannot
 * be mistaken for one. */
static void console__mark(struct console *c)
{
	console__flush(c);
	printf("#done %lu\n", c->lineno);
	fflush(stdout);
}

static void console__line(struct console *c)
{
	char *line = c->line.buf;
	if(c->cfg->marks && !c->lineno)
		console__mark(c); /* "#done 0": the start-up has printed */
	c->lineno++;
	if(c->overlong)
		log_warn("line %lu was longer than %d bytes and was cut", c->lineno, CONSOLE_MAX_LINE);
	size_t len = c->line.len;
	if(len && line[len - 1] == '\r')
		line[--len] = '\0';
	if(line[0] == '~') {
		console__flush(c); /* what was said came before time moved */
		console__clock_line(c, line + 1);
	} else if(len && line[0] != '#') {
		console__message_line(c, line);
	}
	if(c->cfg->marks)
		console__mark(c);
}

/* Reads a chunk of input: its complete lines run as one batch. */
static void console__feed(struct console *c, const char *data, size_t n)
{
	for(size_t i = 0; i < n && !c->a->bot->stopping; i++) {
		if(data[i] == '\n') {
			console__line(c);
			strbuf_reset(&c->line);
			c->overlong = false;
		} else if(c->line.len < CONSOLE_MAX_LINE) {
			strbuf_addc(&c->line, data[i]);
		} else {
			c->overlong = true;
		}
	}
	console__flush(c);
}

static void console__closed(uv_handle_t *h)
{
	(void)h;
}

/* End of input: the last line without a newline counts, then the bot
 * stops once the adapters have sent what they hold. */
static void console__eof(struct console *c)
{
	if(c->line.len) {
		console__line(c);
		strbuf_reset(&c->line);
	}
	console__flush(c);
	if(!c->closed) {
		c->closed = true;
		uv_close((uv_handle_t *)&c->in, console__closed);
	}
	log_debug("end of input");
	bot_stop(c->a->bot, 0);
}

static void console__alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct console *c = h->data;
	(void)suggested;
	buf->base = c->readbuf;
	buf->len = sizeof(c->readbuf);
}

static void console__on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct console *c = s->data;
	if(n > 0)
		console__feed(c, buf->base, (size_t)n);
	else if(n < 0) {
		if(n != UV_EOF)
			log_error("reading standard input: %s", uv_strerror((int)n));
		console__eof(c);
	}
}

/* Regular files (and /dev/null) cannot be polled: read() them from an
 * idle handle; a read of a file never blocks. */
static void console__on_idle(uv_idle_t *h)
{
	struct console *c = h->data;
	ssize_t n = read(STDIN_FILENO, c->readbuf, sizeof(c->readbuf));
	if(n > 0) {
		console__feed(c, c->readbuf, (size_t)n);
	} else if(n == 0 || (errno != EINTR && errno != EAGAIN)) {
		if(n < 0)
			log_error("reading standard input: %s", strerror(errno));
		uv_idle_stop(h);
		console__eof(c);
	}
}

static int console__start(struct adapter *a)
{
	struct console *c = calloc(1, sizeof(*c));
	if(!c)
		return -1;
	a->priv = c;
	c->a = a;
	strbuf_init(&c->line);
	if(!(c->cfg = config_values(a->bot->cfg, console__config_section.name)))
		return -1;
	uv_loop_t *loop = a->bot->loop;
	int rc;
	switch(uv_guess_handle(STDIN_FILENO)) {
	case UV_TTY:
		c->mode = CONSOLE_TTY;
		rc = uv_tty_init(loop, &c->in.tty, STDIN_FILENO, 1);
		break;
	case UV_NAMED_PIPE:
		c->mode = CONSOLE_PIPE;
		rc = uv_pipe_init(loop, &c->in.pipe, 0);
		if(!rc)
			rc = uv_pipe_open(&c->in.pipe, STDIN_FILENO);
		break;
	default:
		c->mode = CONSOLE_FILE;
		rc = uv_idle_init(loop, &c->in.idle);
		break;
	}
	if(rc) {
		log_error("cannot read standard input: %s", uv_strerror(rc));
		return -1;
	}
	c->in.idle.data = c; /* every member of the union starts with the handle */
	if(c->mode == CONSOLE_FILE)
		rc = uv_idle_start(&c->in.idle, console__on_idle);
	else
		rc = uv_read_start((uv_stream_t *)&c->in, console__alloc, console__on_read);
	if(rc) {
		log_error("cannot read standard input: %s", uv_strerror(rc));
		c->closed = true;
		uv_close((uv_handle_t *)&c->in, console__closed);
		return -1;
	}
	c->reading = true;
	return 0;
}

/* Prints one message: "[CHAT] bot: " then the plain text, each further
 * line indented by two spaces. */
static void console__print(const char *chat, const char *label, const char *html)
{
	char *plain = action_plain_text(html);
	if(!plain)
		return;
	printf("[%s] %s: ", chat, label);
	for(const char *p = plain; *p;) {
		size_t n = strcspn(p, "\n");
		fwrite(p, 1, n, stdout);
		p += n;
		if(*p) {
			fputs("\n  ", stdout);
			p++;
		}
	}
	putchar('\n');
	free(plain);
}

static int console__deliver(struct adapter *a, const struct action *act)
{
	struct console *c = a->priv;
	switch(act->kind) {
	case ACTION_SEND_TEXT:
	case ACTION_REPLY:
	case ACTION_SEND_POLL:
		/* The console has no native polls: the text form is the poll. */
		console__print(act->chat_id, "bot", act->text);
		break;
	case ACTION_EDIT:
		if(c->cfg->marks)
			printf("#edit %s\n", act->ref ? act->ref : "");
		console__print(act->chat_id, "bot (edited)", act->text);
		break;
	case ACTION_CLOSE_POLL:
	case ACTION_ANSWER:
		break;
	case ACTION_SEND_PRIVATE: {
		/* A private message: "[@alice] bot: ...". */
		char chat[300];
		snprintf(chat, sizeof(chat), "@%s", act->chat_id);
		console__print(chat, "bot", act->text);
		break;
	}
	}
	/* Buttons are left out: the console cannot press them, and the text
	 * always says how to answer with a command. */
	fflush(stdout);
	return 0;
}

static bool console__idle(struct adapter *a)
{
	(void)a;
	return true; /* it prints synchronously */
}

static void console__stop(struct adapter *a)
{
	struct console *c = a->priv;
	if(c && !c->closed) {
		c->closed = true;
		uv_close((uv_handle_t *)&c->in, console__closed);
	}
}

static void console__release(struct adapter *a)
{
	struct console *c = a->priv;
	if(!c)
		return;
	for(size_t i = 0; i < c->npending; i++)
		free(c->pending[i].user);
	strbuf_release(&c->line);
	free(c);
	a->priv = NULL;
}

const struct adapter_ops console_adapter_ops = {
	.name = "console",
	.config = &console__config_section,
	.configured = console__configured,
	.start = console__start,
	.deliver = console__deliver,
	.idle = console__idle,
	.stop = console__stop,
	.release = console__release,
};

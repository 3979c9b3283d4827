/* libFuzzer target: a whole message through the dispatcher, on a real (in
 * memory) database, as any member of a chat would send it: tokenizer,
 * argument parsers, every command. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/bot.h"
#include "bot/i18n.h"
#include "config/config.h"
#include "lib/clock.h"
#include "storage/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The port: every action is rendered as the console would, which
 * exercises the light-HTML reader, and needs nothing more. */
static int sink_deliver(void *user, const struct action *act)
{
	(void)user;
	free(action_plain_text(act->text ? act->text : ""));
	return 0;
}
static const struct bot_port sink_port = {
	.deliver = sink_deliver,
};

static struct bot bot;
static struct config cfg;
static struct db *db;
static uv_loop_t loop;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if(!ready) {
		struct strbuf err = STRBUF_INIT;
		i18n_init();
		config_init(&cfg);
		clock_use_sim((int64_t)1796115600 * 1000);
		if(db_open(&db, ":memory:", &err))
			abort();
		uv_loop_init(&loop);
		bot_init(&bot, &loop, &cfg, db, &sink_port, NULL);
		strbuf_release(&err);
		ready = 1;
	}
	if(size < 1 || size > 8192)
		return 0;
	/* First byte: who speaks, and whether time moves a little. */
	static const char *const users[] = { "alice", "bob", "carol", "dave" };
	char *text = malloc(size);
	if(!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if(data[0] & 0x80)
		bot_advance_to(&bot, clock_now_ms() + (int64_t)(data[0] & 0x3f) * 3600 * 1000);
	struct event ev = {
		.kind = EVENT_MESSAGE,
		.platform = "fuzz",
		.chat_id = (data[0] & 0x40) ? "room2" : "room",
		.sender_id = users[data[0] & 3],
		.sender_name = users[data[0] & 3],
		.message_id = "m",
		.text = text,
		.time = clock_now(),
	};
	bot_handle_event(&bot, &ev);
	free(text);
	return 0;
}

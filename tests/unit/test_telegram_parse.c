/* The Telegram Bot API's JSON: updates read, errors read, HTML written and
 * cut under the 4096-character limit. */
#include <stdlib.h>
#include <string.h>

#include "adapters/telegram_parse.h"
#include "tests/unit/check.h"

static const char updates[] =
	"{\"ok\":true,\"result\":["
	/* A command in a supergroup, replying to a message, 64-bit chat id. */
	"{\"update_id\":900000001,\"message\":{\"message_id\":11,\"date\":1796115600,"
	"\"chat\":{\"id\":-1001234567890123,\"type\":\"supergroup\",\"title\":\"Café\"},"
	"\"from\":{\"id\":5123456789,\"is_bot\":false,\"first_name\":\"Zoé\",\"last_name\":\"Martin\",\"language_code\":\"fr-FR\"},"
	"\"text\":\"/vote@EnsembleBot 1 3?\",\"entities\":[{\"type\":\"bot_command\",\"offset\":0,\"length\":17}],"
	"\"reply_to_message\":{\"message_id\":7,\"date\":1796115500,\"chat\":{\"id\":-1001234567890123,\"type\":\"supergroup\"}}}},"
	/* A private message. */
	"{\"update_id\":900000002,\"message\":{\"message_id\":3,\"date\":1796115601,"
	"\"chat\":{\"id\":42,\"type\":\"private\",\"first_name\":\"Bob\"},"
	"\"from\":{\"id\":42,\"is_bot\":false,\"first_name\":\"Bob\"},\"text\":\"/mygroups\"}},"
	/* An inline button. */
	"{\"update_id\":900000003,\"callback_query\":{\"id\":\"4382bfdwdsb323b2d9\",\"chat_instance\":\"x\","
	"\"from\":{\"id\":42,\"is_bot\":false,\"first_name\":\"Bob\"},\"data\":\"rsvp:12:y\","
	"\"message\":{\"message_id\":20,\"date\":1796115600,\"chat\":{\"id\":-100555,\"type\":\"supergroup\"}}}},"
	/* A poll answer, then a withdrawn one. */
	"{\"update_id\":900000004,\"poll_answer\":{\"poll_id\":\"5432109876543210\","
	"\"user\":{\"id\":77,\"is_bot\":false,\"first_name\":\"Ana\"},\"option_ids\":[0,2]}},"
	"{\"update_id\":900000005,\"poll_answer\":{\"poll_id\":\"5432109876543210\","
	"\"user\":{\"id\":77,\"is_bot\":false,\"first_name\":\"Ana\"},\"option_ids\":[]}},"
	/* The group became a supergroup. */
	"{\"update_id\":900000006,\"message\":{\"message_id\":30,\"date\":1796115602,"
	"\"chat\":{\"id\":-555,\"type\":\"group\"},\"from\":{\"id\":1,\"is_bot\":false,\"first_name\":\"A\"},"
	"\"migrate_to_chat_id\":-1009999999999}},"
	/* Something the bot does not use, and something with no update_id. */
	"{\"update_id\":900000007,\"my_chat_member\":{}},"
	"{\"message\":{\"text\":\"lost\"}}"
	"]}";

int main(void)
{
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	CHECK_INT(tg_parse_updates(updates, strlen(updates), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 7);
	if(n == 7) {
		CHECK_INT(u[0].kind, TG_MESSAGE);
		CHECK_INT(u[0].update_id, 900000001);
		CHECK_STR(u[0].chat_id, "-1001234567890123");
		CHECK_STR(u[0].sender_id, "5123456789");
		CHECK_STR(u[0].sender_name, "Zoé Martin");
		CHECK_STR(u[0].lang, "fr");
		CHECK_STR(u[0].message_id, "11");
		CHECK_STR(u[0].reply_to, "7");
		CHECK_STR(u[0].text, "/vote@EnsembleBot 1 3?");
		CHECK(!u[0].is_private);
		CHECK_INT(u[1].kind, TG_MESSAGE);
		CHECK(u[1].is_private);
		CHECK_STR(u[1].reply_to, "");
		CHECK_INT(u[2].kind, TG_CALLBACK);
		CHECK_STR(u[2].callback_id, "4382bfdwdsb323b2d9");
		CHECK_STR(u[2].callback_data, "rsvp:12:y");
		CHECK_STR(u[2].chat_id, "-100555");
		CHECK_STR(u[2].message_id, "20");
		CHECK_INT(u[3].kind, TG_POLL_ANSWER);
		CHECK_STR(u[3].poll_id, "5432109876543210");
		CHECK_INT(u[3].n_options, 2);
		CHECK_INT(u[3].options[1], 2);
		CHECK_INT(u[4].kind, TG_POLL_ANSWER);
		CHECK_INT(u[4].n_options, 0);
		CHECK_INT(u[5].kind, TG_MIGRATE);
		CHECK_STR(u[5].migrate_to, "-1009999999999");
		CHECK_STR(u[5].chat_id, "-555");
		CHECK_INT(u[6].kind, TG_OTHER);
		CHECK_INT(u[6].update_id, 900000007);
	}
	tg_updates_free(u, n);

	/* One webhook update. */
	const char one[] = "{\"update_id\":5,\"message\":{\"message_id\":1,\"chat\":{\"id\":1,\"type\":\"private\"},"
	                   "\"from\":{\"id\":1,\"first_name\":\"X\"},\"text\":\"/start\"}}";
	CHECK_INT(tg_parse_updates(one, strlen(one), true, &u, &n, NULL, NULL, err, sizeof(err)), 0);
	CHECK_INT(n, 1);
	tg_updates_free(u, n);

	/* A forum: a message in a topic belongs to "CHAT:THREAD"; one in the
	 * General topic (no is_topic_message) and a reply in a plain group do
	 * not, even with a message_thread_id. */
	const char forum[] = "{\"ok\":true,\"result\":["
		"{\"update_id\":6,\"message\":{\"message_id\":9,\"message_thread_id\":7,\"is_topic_message\":true,"
		"\"chat\":{\"id\":-1005550007,\"type\":\"supergroup\",\"is_forum\":true},"
		"\"from\":{\"id\":2,\"first_name\":\"Bob\"},\"text\":\"/poll\"}},"
		"{\"update_id\":7,\"message\":{\"message_id\":10,\"message_thread_id\":3,"
		"\"chat\":{\"id\":-1005550008,\"type\":\"supergroup\"},"
		"\"from\":{\"id\":2,\"first_name\":\"Bob\"},\"text\":\"/poll\"}},"
		"{\"update_id\":8,\"callback_query\":{\"id\":\"cb\",\"from\":{\"id\":2,\"first_name\":\"Bob\"},"
		"\"data\":\"rsvp:1:y\",\"message\":{\"message_id\":11,\"message_thread_id\":7,\"is_topic_message\":true,"
		"\"chat\":{\"id\":-1005550007,\"type\":\"supergroup\"}}}}]}";
	CHECK_INT(tg_parse_updates(forum, strlen(forum), false, &u, &n, &code, &retry, err, sizeof(err)), 0);
	CHECK_INT(n, 3);
	if(n == 3) {
		CHECK_STR(u[0].chat_id, "-1005550007:7");
		CHECK_STR(u[0].parent_chat, "-1005550007");
		CHECK_STR(u[1].chat_id, "-1005550008");
		CHECK_STR(u[1].parent_chat, "");
		CHECK_STR(u[2].chat_id, "-1005550007:7");
		CHECK_INT(u[2].kind, TG_CALLBACK);
	}
	tg_updates_free(u, n);
	char base[TG_CHAT_MAX];
	CHECK_INT(tg_chat_split("-1005550007:7", base, sizeof(base)), 7);
	CHECK_STR(base, "-1005550007");
	CHECK_INT(tg_chat_split("42", base, sizeof(base)), 0);
	CHECK_STR(base, "42");

	/* Errors in the Bot API's shape, and what is not JSON. */
	const char limited[] = "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry after 7\","
	                       "\"parameters\":{\"retry_after\":7}}";
	CHECK_INT(tg_parse_updates(limited, strlen(limited), false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(code, 429);
	CHECK_INT(retry, 7);
	CHECK(strstr(err, "Too Many Requests") != NULL);
	const char conflict[] = "{\"ok\":false,\"error_code\":409,\"description\":\"Conflict: terminated by other getUpdates request\"}";
	CHECK_INT(tg_parse_updates(conflict, strlen(conflict), false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(code, 409);
	CHECK_INT(retry, -1);
	CHECK_INT(tg_parse_updates("<html>502</html>", 16, false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(tg_parse_updates("{\"ok\":true,\"res", 15, false, &u, &n, &code, &retry, err, sizeof(err)), -1);
	CHECK_INT(tg_parse_updates("{\"ok\":true,\"result\":{}}", 23, false, &u, &n, &code, &retry, err, sizeof(err)), -1);

	/* Mentions become tg://user links; the rest is already Telegram HTML. */
	struct strbuf sb = STRBUF_INIT;
	tg_render_html(&sb, "<b>#1</b> &amp; <a href=\"mention:42\">Bob</a>, <a href=\"https://x.org\">x</a>");
	CHECK_STR(sb.buf, "<b>#1</b> &amp; <a href=\"tg://user?id=42\">Bob</a>, <a href=\"https://x.org\">x</a>");
	strbuf_release(&sb);

	/* Cut on lines under the limit, never inside a character. */
	char **parts;
	long np = tg_split("line one\nline two\nline three", 18, &parts);
	CHECK_INT(np, 2);
	if(np == 2) {
		CHECK_STR(parts[0], "line one\nline two");
		CHECK_STR(parts[1], "line three");
	}
	for(long i = 0; i < np; i++)
		free(parts[i]);
	free(parts);
	np = tg_split("ééééé", 2, &parts);
	CHECK_INT(np, 3);
	if(np == 3)
		CHECK_STR(parts[2], "é");
	for(long i = 0; i < np; i++)
		free(parts[i]);
	free(parts);
	char *big = malloc(10001);
	for(int i = 0; i < 10000; i++)
		big[i] = i % 100 == 99 ? '\n' : 'x';
	big[10000] = '\0';
	np = tg_split(big, TG_MAX_TEXT, &parts);
	CHECK_INT(np, 3);
	for(long i = 0; i < np; i++) {
		CHECK(strlen(parts[i]) <= TG_MAX_TEXT);
		free(parts[i]);
	}
	free(parts);
	free(big);
	return check_done();
}

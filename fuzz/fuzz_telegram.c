/* libFuzzer target: Telegram getUpdates answers and webhook bodies, and the
 * HTML writer, splitter and shortener on what they carry. */
#include <stdint.h>
#include <stdlib.h>

#include "adapters/telegram_html.h"
#include "adapters/telegram_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fuzz__more(struct strbuf *out, long n, void *user)
{
	(void)user;
	return strbuf_addf(out, "… and %ld more", n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_update *u;
	size_t n;
	int code;
	long retry;
	char err[128];
	if(size > 1 << 20)
		return 0;
	bool single = size && (data[0] & 1);
	if(tg_parse_updates((const char *)data, size, single, &u, &n, &code, &retry, err, sizeof(err)))
		return 0;
	for(size_t i = 0; i < n; i++) {
		if(!u[i].text)
			continue;
		struct strbuf sb = STRBUF_INIT;
		tg_render_html(&sb, u[i].text);
		char **parts;
		long np = tg_split(sb.buf, 64, &parts);
		for(long k = 0; k < np; k++)
			free(parts[k]);
		free(np >= 0 ? parts : NULL);
		struct strbuf one = STRBUF_INIT;
		tg_shorten(&one, sb.buf, 64, fuzz__more, NULL);
		strbuf_release(&one);
		strbuf_release(&sb);
	}
	tg_updates_free(u, n);
	return 0;
}

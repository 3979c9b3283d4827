/* libFuzzer target: the date, duration and repetition parsers, in both
 * languages and orders, and the formatting of what they accept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bot/dates.h"
#include "bot/i18n.h"
#include "bot/series.h"
#include "lib/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if(!ready) {
		i18n_init();
		ready = 1;
	}
	if(size > 512)
		return 0;
	char *text = malloc(size + 1);
	if(!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* The core only hands valid UTF-8 to the parsers. */
	if(!utf8_valid(text, size)) {
		free(text);
		return 0;
	}
	static const char *const zones[] = { "Europe/Paris", "America/New_York" };
	struct date_ctx ctx = { .tz = zones[size & 1],
		                .now = 1796115600,
		                .month_first = size & 2,
		                .default_time = (size & 4) ? 23 * 60 + 59 : -1,
		                .allow_past = size & 8 };
	struct date_slot s;
	struct date_why why;
	enum date_err err = date_parse_why(&ctx, text, &s, &why);
	if(err == DATE_OK) {
		struct strbuf sb = STRBUF_INIT;
		date_format_slot(&sb, "fr", ctx.tz, ctx.now, s.start, s.duration_min);
		date_format_when(&sb, "en", ctx.tz, ctx.now, s.start);
		strbuf_release(&sb);
	} else {
		/* The reason, as the replies write it. */
		struct strbuf sb = STRBUF_INIT;
		date_err_write(&sb, (size & 16) ? "fr" : "en", &ctx, err, &why);
		strbuf_release(&sb);
	}
	int minutes;
	if(!date_parse_duration(text, &minutes)) {
		struct strbuf sb = STRBUF_INIT;
		date_format_offset(&sb, "fr", minutes);
		date_format_duration(&sb, "en", minutes);
		strbuf_release(&sb);
	}
	char rule[32];
	bool poll;
	if(series_parse(text, rule, sizeof(rule), &poll) == 1) {
		time_t next;
		series_next(rule, ctx.tz, ctx.now, &next);
	}
	free(text);
	return 0;
}

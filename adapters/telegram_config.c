#include "adapters/telegram_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static int tg_config__check_mode(const char *v, char *msg, size_t msglen)
{
	if(!strcmp(v, "polling") || !strcmp(v, "webhook"))
		return 0;
	snprintf(msg, msglen, "must be polling or webhook, not '%s'", v);
	return -1;
}

static int tg_config__check_https_opt(const char *v, char *msg, size_t msglen)
{
	if(!*v || !strncmp(v, "https://", 8))
		return 0;
	snprintf(msg, msglen, "must start with https:// (Telegram posts only there), not '%s'", v);
	return -1;
}

static int tg_config__check_path(const char *v, char *msg, size_t msglen)
{
	if(v[0] == '/' && !strpbrk(v, " \t?#"))
		return 0;
	snprintf(msg, msglen, "must start with '/' and hold no space, '?' or '#', not '%s'", v);
	return -1;
}

/* Webhook mode needs the URL Telegram posts to and the listener that
 * receives it; without a token, the adapter does not run and nothing is
 * needed. */
static int tg_config__validate(const void *values, const struct config *cfg, struct strbuf *errors)
{
	const struct telegram_config *tc = values;
	int rc = 0;
	if(!*tc->token || strcmp(tc->mode, "webhook"))
		return 0;
	if(!*tc->webhook_url) {
		strbuf_adds(errors, "telegram.mode = webhook needs telegram.webhook_url (the public https URL)\n");
		rc = -1;
	}
	if(!*cfg->http_listen) {
		strbuf_adds(errors, "telegram.mode = webhook needs http.listen (the listener that receives it)\n");
		rc = -1;
	}
	return rc;
}

#define TG_STR(key, field, d, chk) \
	{ \
		.name = key, .type = CONFIG_STR, .offset = offsetof(struct telegram_config, field), .def = d, \
		.check = chk \
	}
#define TG_INT(key, field, d, lo, hi, is_live) \
	{ \
		.name = key, .type = CONFIG_INT, .offset = offsetof(struct telegram_config, field), .def = d, \
		.min = lo, .max = hi, .live = is_live \
	}

/* clang-format off: a table reads best one row to a line */
static const struct config_key tg_config__keys[] = {
	{ .name = "token",
	  .type = CONFIG_STR,
	  .offset = offsetof(struct telegram_config, token),
	  .def = "",
	  .env = "ENSEMBLE_TELEGRAM_TOKEN",
	  .secret = true },
	TG_STR("api_url", api_url, "https://api.telegram.org", config_check_url),
	TG_INT("poll_timeout", poll_timeout, "50", 0, 50, false),
	TG_INT("chat_interval_ms", chat_interval_ms, "1000", 0, 60000, true),
	TG_INT("global_per_second", global_per_second, "30", 0, 1000, true),
	TG_INT("group_per_minute", group_per_minute, "20", 0, 1000, true),
	TG_INT("native_polls", native_polls, "1", 0, 1, false),
	TG_INT("admin_cache_s", admin_cache_s, "300", 0, 86400, true),
	TG_INT("admin_recheck_s", admin_recheck_s, "60", 0, 86400, true),
	TG_STR("mode", mode, "polling", tg_config__check_mode),
	TG_STR("webhook_url", webhook_url, "", tg_config__check_https_opt),
	TG_STR("webhook_path", webhook_path, "/telegram", tg_config__check_path),
};
/* clang-format on */

const struct config_section telegram_config_section = {
	.name = "telegram",
	.size = sizeof(struct telegram_config),
	.keys = tg_config__keys,
	.nkeys = sizeof(tg_config__keys) / sizeof(tg_config__keys[0]),
	.validate = tg_config__validate,
};

const struct telegram_config *telegram_config(const struct config *cfg)
{
	return config_values(cfg, telegram_config_section.name);
}

#include "adapters/matrix_config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/config.h"

static int mx_config__check_mxid(const char *v, char *msg, size_t msglen)
{
	const char *colon = strchr(v, ':');
	if(!*v || (v[0] == '@' && colon && colon > v + 1 && colon[1] && !strpbrk(v, " \t")))
		return 0;
	snprintf(msg, msglen, "must be a full Matrix id like @ensemble:example.org, not '%s'", v);
	return -1;
}

/* A homeserver needs the bot's id and a way to log in; without one, the
 * adapter does not run and nothing is needed. */
static int mx_config__validate(const void *values, const struct config *cfg, struct strbuf *errors)
{
	const struct matrix_config *mc = values;
	int rc = 0;
	(void)cfg;
	if(!*mc->homeserver)
		return 0;
	if(!*mc->user) {
		strbuf_adds(errors, "matrix.homeserver is set but matrix.user is not\n");
		rc = -1;
	}
	if(!*mc->password && !*mc->access_token) {
		strbuf_adds(errors, "matrix needs a password or an access_token (or ENSEMBLE_MATRIX_PASSWORD)\n");
		rc = -1;
	}
	return rc;
}

#define MX_STR(key, field, d, chk, is_live) \
	{ \
		.name = key, .type = CONFIG_STR, .offset = offsetof(struct matrix_config, field), .def = d, \
		.check = chk, .live = is_live \
	}
#define MX_SECRET(key, field, envname) \
	{ \
		.name = key, .type = CONFIG_STR, .offset = offsetof(struct matrix_config, field), .def = "", \
		.env = envname, .secret = true \
	}
#define MX_INT(key, field, d, lo, hi, is_live) \
	{ \
		.name = key, .type = CONFIG_INT, .offset = offsetof(struct matrix_config, field), .def = d, .min = lo, \
		.max = hi, .live = is_live \
	}

/* clang-format off: a table reads best one row to a line */
static const struct config_key mx_config__keys[] = {
	MX_STR("homeserver", homeserver, "", config_check_url_opt, false),
	MX_STR("user", user, "", mx_config__check_mxid, false),
	MX_SECRET("password", password, "ENSEMBLE_MATRIX_PASSWORD"),
	MX_SECRET("access_token", access_token, "ENSEMBLE_MATRIX_ACCESS_TOKEN"),
	MX_INT("admin_level", admin_level, "50", 0, 100, true),
	MX_STR("invite_from", invite_from, "", NULL, true),
	MX_INT("sync_timeout", sync_timeout, "30", 0, 60, false),
	MX_INT("room_interval_ms", room_interval_ms, "200", 0, 60000, true),
};
/* clang-format on */

const struct config_section matrix_config_section = {
	.name = "matrix",
	.size = sizeof(struct matrix_config),
	.keys = mx_config__keys,
	.nkeys = sizeof(mx_config__keys) / sizeof(mx_config__keys[0]),
	.validate = mx_config__validate,
};

const struct matrix_config *matrix_config(const struct config *cfg)
{
	return config_values(cfg, matrix_config_section.name);
}

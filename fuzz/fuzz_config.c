/* libFuzzer target: the configuration file reader (inih and the key tables, the adapters' sections included),
 * through a real file as --check-config reads it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/adapter.h"
#include "bot/bot.h"
#include "bot/i18n.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[512];

/* libFuzzer ends with exit() when its time is up: the file goes then. */
static void fuzz__remove(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if(!path[0]) {
		i18n_init();
		config_set_checks(&bot_config_checks);
		adapter_config_register();
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof(path), "%s/ensemble-fuzz-config-%d.conf", tmp && *tmp ? tmp : "/tmp",
		         (int)getpid());
		atexit(fuzz__remove);
	}
	if(size > 16384)
		return 0;
	FILE *f = fopen(path, "wb");
	if(!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	chmod(path, 0600);
	struct config cfg;
	struct strbuf err = STRBUF_INIT;
	if(!config_init(&cfg)) {
		config_load(&cfg, path, &err, &err);
		config_release(&cfg);
	}
	strbuf_release(&err);
	return 0;
}

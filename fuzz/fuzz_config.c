/* libFuzzer target: the configuration file reader (inih and the key table),
 * through a real file as --check-config reads it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/i18n.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	if(!path[0]) {
		i18n_init();
		snprintf(path, sizeof(path), "/tmp/ensemble-fuzz-config-%d.conf", (int)getpid());
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
		config_load(&cfg, path, &err);
		config_release(&cfg);
	}
	strbuf_release(&err);
	return 0;
}

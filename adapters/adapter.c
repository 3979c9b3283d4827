#include "adapters/adapter.h"

#include <string.h>

#include "adapters/http_client.h"
#include "bot/bot.h"
#include "config/config.h"
#include "lib/log.h"

#define LOG_MODULE "adapter"

/* The registry: every adapter this build knows, by name. */
static const struct adapter_ops *const adapter__registry[] = {
	&console_adapter_ops,
	&telegram_adapter_ops,
	&matrix_adapter_ops,
};
#define ADAPTER_COUNT ((int)(sizeof(adapter__registry) / sizeof(adapter__registry[0])))

const struct adapter_ops *adapter_find(const char *name)
{
	for(int i = 0; i < ADAPTER_COUNT; i++)
		if(!strcmp(adapter__registry[i]->name, name))
			return adapter__registry[i];
	return NULL;
}

const struct adapter_ops *adapter_at(int i)
{
	return i >= 0 && i < ADAPTER_COUNT ? adapter__registry[i] : NULL;
}

int adapter_config_register(void)
{
	for(int i = 0; i < ADAPTER_COUNT; i++)
		if(adapter__registry[i]->config && config_add_section(adapter__registry[i]->config))
			return -1;
	return 0;
}

struct http_client *adapter_http(struct adapter *a)
{
	struct adapter_host *h = a->host;
	if(!h->client && !a->bot->stopping && http_client_new(&h->client, a->bot->loop)) {
		log_error("cannot create the HTTP client");
		h->client = NULL;
	}
	return h->client;
}

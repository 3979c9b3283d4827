#include "lib/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one entry, word (NUL-terminated), into c.  0, or -1 with why. */
static int cidr__entry(struct cidr *c, char *word, const char **why)
{
	char *slash = strchr(word, '/');
	int max;
	memset(c, 0, sizeof(*c));
	if(slash)
		*slash = '\0';
	if(inet_pton(AF_INET, word, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if(inet_pton(AF_INET6, word, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	c->bits = max;
	if(slash) {
		char *end;
		long bits = strtol(slash + 1, &end, 10);
		if(end == slash + 1 || *end || bits < 0 || bits > max) {
			*why = max == 32 ? "the prefix length must be 0 to 32" : "the prefix length must be 0 to 128";
			return -1;
		}
		c->bits = (int)bits;
	}
	for(int i = c->bits; i < max; i++)
		if(c->addr[i / 8] & (0x80 >> (i % 8))) {
			*why = "bits are set past the prefix length";
			return -1;
		}
	return 0;
}

int cidr_parse(struct cidr_list *list, const char *text, char *msg, size_t msglen)
{
	list->n = 0;
	while(*text) {
		size_t skip = strspn(text, " \t,"), len = strcspn(text + skip, " \t,");
		const char *word = text + skip, *why = NULL;
		char buf[64];
		text = word + len;
		if(!len)
			continue;
		if(len >= sizeof(buf))
			why = "too long for an address";
		else if(list->n == CIDR_MAX)
			why = "one too many (at most 32 entries)";
		if(!why) {
			snprintf(buf, sizeof(buf), "%.*s", (int)len, word);
			if(!cidr__entry(&list->v[list->n], buf, &why))
				list->n++;
		}
		if(why) {
			snprintf(msg, msglen, "'%.*s': %s", (int)(len < 64 ? len : 64), word, why);
			return -1;
		}
	}
	return 0;
}

static bool cidr__in(const struct cidr *c, const unsigned char *addr)
{
	int full = c->bits / 8, rest = c->bits % 8;
	if(memcmp(c->addr, addr, (size_t)full))
		return false;
	return !rest || !((c->addr[full] ^ addr[full]) & (0xff << (8 - rest)));
}

bool cidr_match(const struct cidr_list *list, const struct sockaddr *sa)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	const unsigned char *addr;
	int family = sa->sa_family;
	if(family == AF_INET) {
		addr = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if(family == AF_INET6) {
		addr = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if(!memcmp(addr, mapped, sizeof(mapped))) {
			family = AF_INET;
			addr += sizeof(mapped);
		}
	} else {
		return false;
	}
	for(size_t i = 0; i < list->n; i++)
		if(list->v[i].family == family && cidr__in(&list->v[i], addr))
			return true;
	return false;
}

/*
 * cidr: lists of IPv4 and IPv6 addresses and prefixes ("127.0.0.0/8 ::1"),
 * and whether a peer's address is in one: who may read the listener's
 * /metrics.
 */
#ifndef ENSEMBLE_CIDR_H
#define ENSEMBLE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* One address or prefix: the first bits bits of addr (4 bytes for
 * AF_INET, 16 for AF_INET6) in network order. */
struct cidr {
	int family;
	int bits;
	unsigned char addr[16];
};

#define CIDR_MAX 32

/* A list, as cidr_parse reads it. */
struct cidr_list {
	struct cidr v[CIDR_MAX];
	size_t n;
};

/* Reads text, addresses and prefixes separated by blanks or commas
 * ("127.0.0.0/8, ::1, 192.168.1.10, fd00::/8"): an address alone is a
 * prefix of all its bits; an address's bits beyond its prefix must be
 * zero.  An empty text is an empty list.  Returns 0, or -1 with msg saying
 * which entry is wrong and why (the list then holds the entries before
 * it). */
int cidr_parse(struct cidr_list *list, const char *text, char *msg, size_t msglen);

/* True when the address sa (AF_INET or AF_INET6; an IPv4-mapped IPv6
 * address counts as the IPv4 one) is in list. */
bool cidr_match(const struct cidr_list *list, const struct sockaddr *sa);

#endif

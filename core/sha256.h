/*
 * SHA-256 (FIPS 180-4), for cache keys: the same thread, prompt, model and
 * parameters hash to the same key on every machine. Not for secrets, not
 * constant-time; no other hash is offered.
 */
#ifndef LISTDIGEST_SHA256_H
#define LISTDIGEST_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t len;          /* bytes hashed so far */
	unsigned char buf[64];
	size_t nbuf;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest to out; s must be initialised again before reuse. */
void sha256_final(struct sha256 *s, unsigned char out[32]);

#endif

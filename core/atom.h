/*
 * atom: reads one page of an Atom feed (RFC 4287) as public-inbox serves it
 * (search results with x=A, new.atom, t.atom) into entries, and the RFC 3986
 * percent-encoding public-inbox uses for Message-IDs in URLs. Not a general
 * feed library: no RSS, no content bodies, no network. Engine only: no Lua.
 */
#ifndef LISTDIGEST_ATOM_H
#define LISTDIGEST_ATOM_H

#include <stddef.h>
#include <stdint.h>

/* One <entry>. Strings are NUL-terminated UTF-8 owned by the feed (valid until
 * atom_free); a missing element is NULL. */
struct atom_entry {
	char *message_id;   /* last path segment of the entry's link, percent-decoded */
	char *href;         /* the link (rel absent or "alternate"), XML entities decoded */
	char *title;        /* text, XML entities decoded (public-inbox marks titles that
	                     * held & < > ' " type="html"; decoding once gives the subject) */
	char *updated;      /* as written, e.g. "2022-01-24T08:57:24Z" */
	int64_t updated_t;  /* updated as seconds since the epoch, or INT64_MIN */
	char *author_name;
	char *author_email;
	char *in_reply_to;  /* Message-ID from thr:in-reply-to's href, or NULL */
};

struct atom_feed {
	struct atom_entry *entries;
	size_t n_entries;
	char *title;
	char *updated;
};

/*
 * Parses xml[0..len) into *feed_out (owned by the caller; atom_free). The
 * input is read with the network and DTD loading off and no entity
 * substitution. Input that holds nothing but whitespace and an optional
 * "</feed>" (what public-inbox 1.9.0 answers for an offset past the end of
 * the results) is an empty feed, not an error. Returns 0, or -1 with the
 * reason in err for input that is not an Atom feed.
 */
int atom_parse(const char *xml, size_t len, struct atom_feed **feed_out, char *err, size_t errlen);

/* Frees a feed; atom_free(NULL) does nothing. */
void atom_free(struct atom_feed *feed);

/*
 * Percent-decodes s[0..n) into dst (room for n bytes; the result is never
 * longer) and returns the decoded length. Malformed escapes are copied as
 * they are. No NUL is written.
 */
size_t atom_pct_decode(const char *s, size_t n, char *dst);

/*
 * Percent-encodes s[0..n) as an RFC 3986 §3.3 path segment (pchar): keeps
 * A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * + , ; = : @ and writes every other byte
 * as %XX (upper-case hex), "/" and "%" included. dst needs room for 3*n
 * bytes; returns the encoded length. No NUL is written.
 */
size_t atom_pct_encode(const char *s, size_t n, char *dst);

#endif

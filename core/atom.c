/*
 * atom: one page of a public-inbox Atom feed into entries (atom.h), with
 * libxml2's tree parser: no network, no DTD loading, no entity substitution.
 * The Message-ID of an entry is only in its link (public-inbox's <id> is a
 * hash), so the link's last path segment is what matters here.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "atom.h"
#include "date.h"
#include "util.h"

#define ATOM_NS "http://www.w3.org/2005/Atom"
#define THR_NS "http://purl.org/syndication/thread/1.0"

/* Is NODE the element NAME in namespace NS (or in no namespace: some feeds
 * forget the default namespace)? */
static int is_elem(const xmlNode *node, const char *ns, const char *name)
{
	if (node->type != XML_ELEMENT_NODE || strcmp((const char *)node->name, name) != 0)
		return 0;
	return node->ns == NULL || node->ns->href == NULL || strcmp((const char *)node->ns->href, ns) == 0;
}

/* A malloc'ed copy of NODE's text content, or NULL (out of memory). */
static char *text_of(const xmlNode *node)
{
	xmlChar *c = xmlNodeGetContent(node);
	char *s;

	if (!c)
		return strdup("");
	s = strdup((const char *)c);
	xmlFree(c);
	return s;
}

static char *attr_of(const xmlNode *node, const char *name)
{
	xmlChar *c = xmlGetProp(node, (const xmlChar *)name);
	char *s;

	if (!c)
		return NULL;
	s = strdup((const char *)c);
	xmlFree(c);
	return s;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t atom_pct_decode(const char *s, size_t n, char *dst)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int hi, lo;

		if (s[i] == '%' && i + 2 < n &&
		    (hi = hexval((unsigned char)s[i + 1])) >= 0 && (lo = hexval((unsigned char)s[i + 2])) >= 0) {
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	return o;
}

/* RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" */
static int is_pchar(unsigned char c)
{
	return isalnum(c) || (c && strchr("-._~!$&'()*+,;=:@", c) != NULL);
}

size_t atom_pct_encode(const char *s, size_t n, char *dst)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80 && is_pchar(c)) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '%';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	return o;
}

/*
 * The Message-ID in a public-inbox link "http://host/list/ID/" (or ".../ID/T/"
 * is not expected here): the last non-empty path segment, percent-decoded.
 * Query and fragment are dropped first. NULL for an empty segment or no memory.
 */
static char *id_from_href(const char *href)
{
	size_t end = strcspn(href, "?#"), start;
	char *out;

	while (end > 0 && href[end - 1] == '/')
		end--;
	start = end;
	while (start > 0 && href[start - 1] != '/')
		start--;
	if (start == end)
		return NULL;
	/* "scheme://host" alone has no path segment to take */
	if (start >= 2 && href[start - 2] == '/' && start >= 3 && href[start - 3] == ':')
		return NULL;
	out = malloc(end - start + 1);
	if (!out)
		return NULL;
	out[atom_pct_decode(href + start, end - start, out)] = '\0';
	return out;
}

/* "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|-hh:mm)" (RFC 3339) → epoch, or INT64_MIN. */
static int64_t parse_rfc3339(const char *s)
{
	int y, mo, d, h, mi, sec, n = 0;
	int64_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
		return INT64_MIN;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return INT64_MIN;
	t = date_from_civil(y, mo, d, h, mi, sec);
	s += n;
	if (*s == '.')
		while (isdigit((unsigned char)*++s))
			;
	if (*s == '+' || *s == '-') {
		int zh, zm;

		if (sscanf(s + 1, "%2d:%2d", &zh, &zm) != 2)
			return INT64_MIN;
		t += (*s == '+' ? -1 : 1) * (int64_t)(zh * 3600 + zm * 60);
	} else if (*s != 'Z' && *s != 'z') {
		return INT64_MIN;
	}
	return t;
}

static void entry_free(struct atom_entry *e)
{
	free(e->message_id);
	free(e->href);
	free(e->title);
	free(e->updated);
	free(e->author_name);
	free(e->author_email);
	free(e->in_reply_to);
}

void atom_free(struct atom_feed *feed)
{
	if (!feed)
		return;
	for (size_t i = 0; i < feed->n_entries; i++)
		entry_free(&feed->entries[i]);
	free(feed->entries);
	free(feed->title);
	free(feed->updated);
	free(feed);
}

/* Fills E from an <entry> element; returns -1 when out of memory. */
static int read_entry(const xmlNode *entry, struct atom_entry *e)
{
	e->updated_t = INT64_MIN;
	for (const xmlNode *c = entry->children; c; c = c->next) {
		if (is_elem(c, ATOM_NS, "title") && !e->title) {
			if (!(e->title = text_of(c)))
				return -1;
		} else if (is_elem(c, ATOM_NS, "updated") && !e->updated) {
			if (!(e->updated = text_of(c)))
				return -1;
			e->updated_t = parse_rfc3339(e->updated);
		} else if (is_elem(c, ATOM_NS, "link") && !e->href) {
			char *rel = attr_of(c, "rel");
			int alternate = !rel || strcmp(rel, "alternate") == 0;

			free(rel);
			if (alternate && (e->href = attr_of(c, "href")) != NULL)
				e->message_id = id_from_href(e->href);
		} else if (is_elem(c, ATOM_NS, "author")) {
			for (const xmlNode *a = c->children; a; a = a->next) {
				if (is_elem(a, ATOM_NS, "name") && !e->author_name) {
					if (!(e->author_name = text_of(a)))
						return -1;
				} else if (is_elem(a, ATOM_NS, "email") && !e->author_email) {
					if (!(e->author_email = text_of(a)))
						return -1;
				}
			}
		} else if (c->type == XML_ELEMENT_NODE && c->ns && c->ns->href &&
			   strcmp((const char *)c->ns->href, THR_NS) == 0 &&
			   strcmp((const char *)c->name, "in-reply-to") == 0 && !e->in_reply_to) {
			char *href = attr_of(c, "href");

			if (href) {
				e->in_reply_to = id_from_href(href);
				free(href);
			}
		}
	}
	return 0;
}

/* Whitespace only, with at most one "</feed>" in it? */
static int bare_end(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && isspace((unsigned char)s[i]))
		i++;
	if (n - i >= 7 && memcmp(s + i, "</feed>", 7) == 0)
		i += 7;
	while (i < n && isspace((unsigned char)s[i]))
		i++;
	return i == n;
}

int atom_parse(const char *xml, size_t len, struct atom_feed **feed_out, char *err, size_t errlen)
{
	struct atom_feed *feed;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	const xmlNode *root;
	size_t n = 0, cap = 0;
	int rc = -1;

	*feed_out = NULL;
	feed = calloc(1, sizeof *feed);
	if (!feed)
		return util_fail(err, errlen, "out of memory");
	if (bare_end(xml, len)) {
		*feed_out = feed;
		return 0;
	}
	if (len > INT32_MAX) {
		free(feed);
		return util_fail(err, errlen, "feed too large (%zu bytes)", len);
	}
	xmlInitParser();
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		free(feed);
		return util_fail(err, errlen, "out of memory");
	}
	/* no XML_PARSE_NOENT / DTDLOAD / HUGE: entities stay unexpanded, limits on */
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "feed.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[160];

		snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unknown error");
		msg[strcspn(msg, "\n")] = '\0';
		util_fail(err, errlen, "not well-formed XML (line %d): %s", e ? e->line : 0, msg);
		goto out;
	}
	/* public-inbox never sends a DTD; refusing one rules out entity tricks */
	if (doc->intSubset || doc->extSubset) {
		util_fail(err, errlen, "feed has a DTD (refused)");
		goto out;
	}
	root = xmlDocGetRootElement(doc);
	if (!root || !is_elem(root, ATOM_NS, "feed")) {
		util_fail(err, errlen, "not an Atom feed (root element <%s>)", root ? (const char *)root->name : "");
		goto out;
	}
	for (const xmlNode *c = root->children; c; c = c->next) {
		if (is_elem(c, ATOM_NS, "title") && !feed->title) {
			if (!(feed->title = text_of(c)))
				goto oom;
		} else if (is_elem(c, ATOM_NS, "updated") && !feed->updated) {
			if (!(feed->updated = text_of(c)))
				goto oom;
		} else if (is_elem(c, ATOM_NS, "entry")) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 32;
				struct atom_entry *ne = realloc(feed->entries, ncap * sizeof *ne);

				if (!ne)
					goto oom;
				feed->entries = ne;
				cap = ncap;
			}
			memset(&feed->entries[n], 0, sizeof feed->entries[n]);
			feed->n_entries = ++n;
			if (read_entry(c, &feed->entries[n - 1]) < 0)
				goto oom;
		}
	}
	rc = 0;
	goto out;
oom:
	util_fail(err, errlen, "out of memory");
out:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if (rc == 0)
		*feed_out = feed;
	else
		atom_free(feed);
	return rc;
}

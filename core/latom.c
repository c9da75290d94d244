/*
 * Lua binding for the Atom reader (atom.h): require "listdigest.atom".
 * Plain functions over strings; a feed crosses as a table. The parsed feed is
 * anchored in a userdata while the table is built, so a memory error raised
 * by Lua does not leak it.
 */
#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "atom.h"
#include "modules.h"
#include "lutil.h"

#define FEED_MT "listdigest.atom.feed"

struct lfeed {
	struct atom_feed *feed;
};

static int feed_gc(lua_State *L)
{
	struct lfeed *lf = luaL_checkudata(L, 1, FEED_MT);

	atom_free(lf->feed);
	lf->feed = NULL;
	return 0;
}

/*
 * feed, err = atom.parse(xml)
 * feed = { title =, updated =, entries = { {message_id =, href =, title =,
 *          updated = "2022-01-24T08:57:24Z", updated_t = epoch,
 *          author = {name =, email =}, in_reply_to = parent Message-ID}, ... } }
 * Missing elements are nil. A body of only "</feed>" (public-inbox 1.9.0 past
 * the last page) gives zero entries. Not an Atom feed (an HTML error page,
 * broken XML): nil, reason.
 */
static int l_parse(lua_State *L)
{
	size_t len;
	const char *xml = luaL_checklstring(L, 1, &len);
	struct lfeed *lf;
	struct atom_feed *feed;
	char err[256];

	lf = lua_newuserdatauv(L, sizeof *lf, 0);
	lf->feed = NULL;
	luaL_setmetatable(L, FEED_MT);
	if (atom_parse(xml, len, &lf->feed, err, sizeof err) < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, err);
		return 2;
	}
	feed = lf->feed;
	lua_createtable(L, 0, 3);
	lutil_set_str(L, "title", feed->title);
	lutil_set_str(L, "updated", feed->updated);
	lua_createtable(L, (int)feed->n_entries, 0);
	for (size_t i = 0; i < feed->n_entries; i++) {
		const struct atom_entry *e = &feed->entries[i];

		lua_createtable(L, 0, 8);
		lutil_set_str(L, "message_id", e->message_id);
		lutil_set_str(L, "href", e->href);
		lutil_set_str(L, "title", e->title);
		lutil_set_str(L, "updated", e->updated);
		if (e->updated_t != INT64_MIN) {
			lutil_set_int(L, "updated_t", (lua_Integer)e->updated_t);
		}
		lutil_set_str(L, "in_reply_to", e->in_reply_to);
		lua_createtable(L, 0, 2);
		lutil_set_str(L, "name", e->author_name);
		lutil_set_str(L, "email", e->author_email);
		lua_setfield(L, -2, "author");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "entries");
	atom_free(lf->feed);
	lf->feed = NULL;
	return 1;
}

/* s = atom.pct_encode(id): an RFC 3986 path segment ("/" → "%2F"). */
static int l_pct_encode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	luaL_Buffer b;
	char *dst;

	luaL_argcheck(L, len <= (SIZE_MAX - 1) / 3, 1, "string too long");
	dst = luaL_buffinitsize(L, &b, 3 * len + 1);
	luaL_pushresultsize(&b, atom_pct_encode(s, len, dst));
	return 1;
}

/* s = atom.pct_decode(s): %XX escapes decoded, malformed ones kept. */
static int l_pct_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	luaL_Buffer b;
	char *dst = luaL_buffinitsize(L, &b, len + 1);

	luaL_pushresultsize(&b, atom_pct_decode(s, len, dst));
	return 1;
}

int luaopen_listdigest_atom(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{"parse", l_parse},
		{"pct_encode", l_pct_encode},
		{"pct_decode", l_pct_decode},
		{NULL, NULL},
	};

	if (luaL_newmetatable(L, FEED_MT)) {
		lua_pushcfunction(L, feed_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	luaL_newlib(L, fns);
	return 1;
}

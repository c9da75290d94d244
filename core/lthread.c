/*
 * Lua binding for the threading engine (thread.h): require "listdigest.thread".
 * Converts item tables to struct thread_item (ids point into the Lua strings,
 * nothing is copied) and the forest back to nested tables. No header
 * parsing beyond finding <id> tokens in a raw In-Reply-To/References value.
 */
#include <math.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "modules.h"
#include "thread.h"
#include "lutil.h"

#define FOREST_MT "listdigest.thread.forest"

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* An id given alone: surrounding blanks and one pair of <> are dropped. */
static struct thread_id bare_id(const char *s, size_t len)
{
	struct thread_id id;

	while (len && is_space(*s))
		s++, len--;
	while (len && is_space(s[len - 1]))
		len--;
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>')
		s++, len -= 2;
	id.s = s;
	id.len = len;
	return id;
}

/*
 * Finds the <id> tokens of a raw header value (RFC 5322 §3.6.4 msg-id);
 * writes up to MAX of them to OUT (may be NULL to count) and sets *noisy
 * when anything but blanks lies outside them. A value with no '<' that is
 * one token with an '@' is taken as a bare id, so callers may pass either.
 */
static size_t scan_ids(const char *s, size_t len, struct thread_id *out, int *noisy)
{
	const char *p = s, *end = s + len, *gt;
	size_t n = 0;

	*noisy = 0;
	if (!memchr(s, '<', len)) {
		struct thread_id id = bare_id(s, len);
		size_t i;

		for (i = 0; i < id.len && !is_space(id.s[i]); i++)
			;
		if (id.len && i == id.len && memchr(id.s, '@', id.len)) {
			if (out)
				out[0] = id;
			return 1;
		}
		*noisy = id.len > 0;
		return 0;
	}
	while (p < end) {
		if (is_space(*p)) {
			p++;
			continue;
		}
		if (*p != '<' || !(gt = memchr(p, '>', (size_t)(end - p)))) {
			*noisy = 1;
			p++;
			continue;
		}
		if (out)
			out[n] = bare_id(p, (size_t)(gt - p) + 1);
		n++;
		p = gt + 1;
	}
	return n;
}

/* How many ids field FIELD of the item at the stack top can yield. */
static size_t count_ids(lua_State *L, int item, const char *field)
{
	size_t n = 0, len;
	const char *s;
	int noisy;

	switch (lua_getfield(L, item, field)) {
	case LUA_TNIL:
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, -1, &len);
		n = scan_ids(s, len, NULL, &noisy);
		break;
	case LUA_TTABLE:
		n = (size_t)lua_rawlen(L, -1);
		break;
	default:
		luaL_error(L, "thread.build: %s must be a string or a list of strings", field);
	}
	lua_pop(L, 1);
	return n;
}

/* Fills OUT from field FIELD; returns the count. Strings stay in the item. */
static size_t get_ids(lua_State *L, int item, const char *field, struct thread_id *out,
                      size_t max, int *noisy)
{
	size_t n = 0, i, len;
	const char *s;

	*noisy = 0;
	switch (lua_getfield(L, item, field)) {
	case LUA_TSTRING:
		s = lua_tolstring(L, -1, &len);
		n = scan_ids(s, len, out, noisy);
		break;
	case LUA_TTABLE:
		for (i = 1; i <= max; i++) {
			if (lua_rawgeti(L, -1, (lua_Integer)i) != LUA_TSTRING)
				luaL_error(L, "thread.build: %s[%d] must be a string", field, (int)i);
			s = lua_tolstring(L, -1, &len);
			out[n++] = bare_id(s, len);
			lua_pop(L, 1);
		}
		break;
	default:
		break;
	}
	lua_pop(L, 1);
	return n;
}

static int forest_gc(lua_State *L)
{
	struct thread_forest **fp = luaL_checkudata(L, 1, FOREST_MT);

	thread_free(*fp);
	*fp = NULL;
	return 0;
}

/*
 * roots, dups = thread.build(items)
 * items[i] = { id = "a@b", references = {"x@y", ...} or raw header,
 *              in_reply_to = "x@y" or raw header or list, date = epoch|nil }
 * roots[k] = { id =, index = i (nil for a ghost), ghost = true|nil,
 *              date = epoch|nil (a ghost's: its earliest message),
 *              thread = conversation number (roots only), children = {...} }
 * dups = { i, ... } input indices dropped because their id came earlier.
 * Bad item shapes raise.
 */
static int l_build(lua_State *L)
{
	struct thread_item *items;
	struct thread_id *ids;
	struct thread_forest **fp;
	size_t n, i, total = 0, used = 0, u;
	char err[128];

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	n = (size_t)lua_rawlen(L, 1);
	for (i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 1, (lua_Integer)i) != LUA_TTABLE)
			luaL_error(L, "thread.build: items[%d] must be a table", (int)i);
		total += count_ids(L, 2, "references") + count_ids(L, 2, "in_reply_to");
		lua_pop(L, 1);
	}
	/* Scratch arrays as userdata: collected even if a later call raises. */
	items = lua_newuserdatauv(L, (n ? n : 1) * sizeof *items, 0);                /* 2 */
	ids = lua_newuserdatauv(L, (total ? total : 1) * sizeof *ids, 0);           /* 3 */
	for (i = 0; i < n; i++) {
		struct thread_item *it = &items[i];
		size_t len, max;
		const char *s;
		int noisy, t;

		memset(it, 0, sizeof *it);
		lua_rawgeti(L, 1, (lua_Integer)i + 1);                               /* 4 */
		t = lua_getfield(L, 4, "id");
		if (t == LUA_TSTRING) {
			s = lua_tolstring(L, -1, &len);
			it->id = bare_id(s, len);
		} else if (t != LUA_TNIL) {
			luaL_error(L, "thread.build: items[%d].id must be a string", (int)i + 1);
		}
		lua_pop(L, 1);
		max = count_ids(L, 4, "references");
		it->references = ids + used;
		it->n_references = get_ids(L, 4, "references", ids + used, max, &noisy);
		used += it->n_references;
		max = count_ids(L, 4, "in_reply_to");
		it->in_reply_to = ids + used;
		it->n_in_reply_to = get_ids(L, 4, "in_reply_to", ids + used, max, &noisy);
		it->in_reply_to_noisy = noisy;
		used += it->n_in_reply_to;
		t = lua_getfield(L, 4, "date");
		if (t == LUA_TNUMBER) {
			lua_Number d = floor(lua_tonumber(L, -1));

			it->has_date = 1;
			if (lua_isinteger(L, -1))
				it->date = (int64_t)lua_tointeger(L, -1);
			else if (d >= -9.2e18 && d <= 9.2e18)
				it->date = (int64_t)d;
			else
				luaL_error(L, "thread.build: items[%d].date out of range", (int)i + 1);
		} else if (t != LUA_TNIL) {
			luaL_error(L, "thread.build: items[%d].date must be a number", (int)i + 1);
		}
		lua_pop(L, 2);
	}

	fp = lua_newuserdatauv(L, sizeof *fp, 0);                                   /* 4 */
	*fp = NULL;
	luaL_setmetatable(L, FOREST_MT);
	if (thread_build(items, n, fp, err, sizeof err) < 0)
		return luaL_error(L, "thread.build: %s", err);

	/* One table per node (index = node + 1), then children in node order. */
	lua_createtable(L, (int)(*fp)->n_nodes, 0);                                 /* 5 */
	for (u = 0; u < (*fp)->n_nodes; u++) {
		const struct thread_node *nd = &(*fp)->nodes[u];

		lua_createtable(L, 0, 5);
		if (nd->id.len) {
			lua_pushlstring(L, nd->id.s, nd->id.len);
			lua_setfield(L, -2, "id");
		}
		if (nd->item == THREAD_NONE) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "ghost");
		} else {
			lutil_set_int(L, "index", (lua_Integer)nd->item + 1);
		}
		if (nd->has_date) {
			lutil_set_int(L, "date", (lua_Integer)nd->date);
		}
		if (nd->parent == THREAD_NONE) {
			lutil_set_int(L, "thread", (lua_Integer)nd->thread + 1);
		}
		lua_newtable(L);
		lua_setfield(L, -2, "children");
		if (nd->parent != THREAD_NONE) {
			/* Preorder: the parent's table exists and siblings come in order. */
			lua_rawgeti(L, 5, (lua_Integer)nd->parent + 1);
			lua_getfield(L, -1, "children");
			lua_pushvalue(L, -3);
			lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
			lua_pop(L, 2);
		}
		lua_rawseti(L, 5, (lua_Integer)u + 1);
	}
	lua_createtable(L, (int)(*fp)->n_roots, 0);                                 /* 6 */
	i = 0;
	for (u = (*fp)->first_root; u != THREAD_NONE; u = (*fp)->nodes[u].next_sibling) {
		lua_rawgeti(L, 5, (lua_Integer)u + 1);
		lua_rawseti(L, 6, (lua_Integer)++i);
	}
	lua_createtable(L, (int)(*fp)->n_dups, 0);                                  /* 7 */
	for (i = 0; i < (*fp)->n_dups; i++) {
		lua_pushinteger(L, (lua_Integer)(*fp)->dups[i] + 1);
		lua_rawseti(L, 7, (lua_Integer)i + 1);
	}
	thread_free(*fp);
	*fp = NULL;
	return 2;
}

static const luaL_Reg funcs[] = {
	{"build", l_build},
	{NULL, NULL},
};

int luaopen_listdigest_thread(lua_State *L)
{
	luaL_newmetatable(L, FOREST_MT);
	lua_pushcfunction(L, forest_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}

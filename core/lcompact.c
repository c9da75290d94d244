/*
 * lcompact: the Lua binding of compact.c, module "listdigest.compact".
 * Reads messages' segments from Lua tables into GC-managed scratch memory,
 * runs the engine, and builds the result tables while a boxed result is
 * freed by __gc should an error unwind. No compaction logic here.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "compact.h"
#include "modules.h"
#include "lutil.h"

static void free_result(void *r) { compact_free(r); }

/* compact.tokens(s) -> integer: the estimate of compact.h (an ASCII byte is
 * 1/4 token, another non-CJK character 1/2, a CJK character 1; rounded up). */
static int l_tokens(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	lua_pushinteger(L, (lua_Integer)compact_tokens(s, len));
	return 1;
}

static int kind_of(const char *s, enum segment_kind *out)
{
	static const enum segment_kind all[] = { SEGMENT_TEXT, SEGMENT_QUOTE, SEGMENT_DIFF,
		SEGMENT_DIFFSTAT, SEGMENT_SIGNATURE, SEGMENT_TRAILER, SEGMENT_LIST_FOOTER };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!strcmp(s, segment_kind_name(all[i]))) {
			*out = all[i];
			return 1;
		}
	return 0;
}

static size_t opt_size(lua_State *L, int opts, const char *name, size_t def, size_t min)
{
	lua_getfield(L, opts, name);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return def;
	}
	int ok;
	lua_Integer v = lua_tointegerx(L, -1, &ok);
	if (!ok || v < (lua_Integer)min)
		luaL_error(L, "bad argument #2 to 'thread' (opts.%s must be an integer >= %d)", name,
			   (int)min);
	lua_pop(L, 1);
	return (size_t)v;
}

static void read_opts(lua_State *L, int idx, struct compact_opts *o)
{
	compact_opts_default(o);
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	o->budget = opt_size(L, idx, "budget", o->budget, 1);
	o->diff_lines = opt_size(L, idx, "diff_lines", o->diff_lines, 0);
	o->diff_budget = opt_size(L, idx, "diff_budget", o->diff_budget, 0);
	o->diff_share = opt_size(L, idx, "diff_share", o->diff_share, 0);
	o->diff_min = opt_size(L, idx, "diff_min", o->diff_min, 0);
	o->context_lines = opt_size(L, idx, "context_lines", o->context_lines, 0);
	o->quote_lines = opt_size(L, idx, "quote_lines", o->quote_lines, 0);
	o->header_tokens = opt_size(L, idx, "header_tokens", o->header_tokens, 0);
	size_t pct = opt_size(L, idx, "known_percent", o->known_percent, 1);
	if (pct > 100)
		luaL_argerror(L, idx, "opts.known_percent must be at most 100");
	o->known_percent = (unsigned)pct;
}

/* Stores the string on top of the stack in the anchor table too, so that it
 * outlives its stack slot (a value made by an __index metamethod would not),
 * and returns it. */
static const char *anchored(lua_State *L, int anchor, lua_Integer *na, size_t *len_out)
{
	const char *s = lua_tolstring(L, -1, len_out);
	lua_pushvalue(L, -1);
	lua_rawseti(L, anchor, ++*na);
	return s;
}

/* compact.thread(msgs [, opts]) -> out

msgs[i] = { id = "<message-id>", cover = bool, segments = { {kind=, text=} ...} }
(a message without segments is compacted as one text segment of its .text;
from, date, subject are not read: the caller writes the headers),
in prompt order. opts: budget (24000), diff_lines (3), diff_budget (400), diff_share (10),
diff_min (100), context_lines (3), quote_lines (8), header_tokens (32), known_percent (80).
out = { messages = { {id=, text=, tokens=, raw_tokens=, truncated=,
                      dropped = {quote=, diff=, signature=, footer=}} ...},
        tokens=, raw_tokens=, chunks = { {first=, last=, tokens=} ...} }
Raises on wrong argument types, unknown segment kinds, out of memory. */
static int l_thread(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	struct compact_opts o;
	read_opts(L, 2, &o);
	lua_settop(L, 1);
	lua_newtable(L);
	int anchor = lua_gettop(L);
	lua_Integer na = 0;
	size_t n = (size_t)luaL_len(L, 1);
	struct compact_msg *msgs = lua_newuserdatauv(L, (n ? n : 1) * sizeof *msgs, 0);
	lua_rawseti(L, anchor, ++na);
	for (size_t i = 0; i < n; i++) {
		if (lua_geti(L, 1, (lua_Integer)i + 1) != LUA_TTABLE)
			return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d] is not a table)",
					  (int)i + 1);
		int mi = lua_gettop(L);
		lua_getfield(L, mi, "cover");
		msgs[i].cover = lua_toboolean(L, -1);
		lua_pop(L, 1);
		int st = lua_getfield(L, mi, "segments");
		if (st == LUA_TNIL) {
			lua_pop(L, 1);
			struct compact_segment *g = lua_newuserdatauv(L, sizeof *g, 0);
			lua_rawseti(L, anchor, ++na);
			if (lua_getfield(L, mi, "text") != LUA_TSTRING)
				return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d] has neither "
						  "segments nor text)", (int)i + 1);
			g->kind = SEGMENT_TEXT;
			g->text = anchored(L, anchor, &na, &g->len);
			lua_pop(L, 2);
			msgs[i].segs = g;
			msgs[i].n = 1;
			continue;
		}
		if (st != LUA_TTABLE)
			return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d].segments is not a "
					  "table)", (int)i + 1);
		int si = lua_gettop(L);
		size_t ns = (size_t)luaL_len(L, si);
		struct compact_segment *g = lua_newuserdatauv(L, (ns ? ns : 1) * sizeof *g, 0);
		lua_rawseti(L, anchor, ++na);
		for (size_t j = 0; j < ns; j++) {
			if (lua_geti(L, si, (lua_Integer)j + 1) != LUA_TTABLE)
				return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d].segments[%d] "
						  "is not a table)", (int)i + 1, (int)j + 1);
			if (lua_getfield(L, -1, "kind") != LUA_TSTRING ||
			    !kind_of(lua_tostring(L, -1), &g[j].kind))
				return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d].segments[%d]"
						  ".kind is not a segment kind)", (int)i + 1, (int)j + 1);
			lua_pop(L, 1);
			if (lua_getfield(L, -1, "text") != LUA_TSTRING)
				return luaL_error(L, "bad argument #1 to 'thread' (msgs[%d].segments[%d]"
						  ".text is not a string)", (int)i + 1, (int)j + 1);
			g[j].text = anchored(L, anchor, &na, &g[j].len);
			lua_pop(L, 2);
		}
		msgs[i].segs = g;
		msgs[i].n = ns;
		lua_pop(L, 2);   /* segments, msg */
	}

	struct lutil_box *b = lutil_box(L, free_result);
	struct compact_result *r;
	char err[128];
	if (compact_thread(msgs, n, &o, &r, err, sizeof err) < 0)
		return luaL_error(L, "compact.thread: %s", err);
	b->p = r;

	lua_createtable(L, 0, 4);
	lua_createtable(L, (int)r->n, 0);
	for (size_t i = 0; i < r->n; i++) {
		const struct compact_out *m = &r->msgs[i];
		lua_createtable(L, 0, 6);
		lua_geti(L, 1, (lua_Integer)i + 1);
		lua_getfield(L, -1, "id");
		lua_setfield(L, -3, "id");
		lua_pop(L, 1);
		lua_pushlstring(L, m->text, m->len);
		lua_setfield(L, -2, "text");
		lutil_set_int(L, "tokens", (lua_Integer)m->tokens);
		lutil_set_int(L, "raw_tokens", (lua_Integer)m->raw_tokens);
		lua_pushboolean(L, m->truncated);
		lua_setfield(L, -2, "truncated");
		lua_createtable(L, 0, 4);
		static const char *const names[COMPACT_DROP_N] = { "quote", "diff", "signature",
								   "footer" };
		for (int d = 0; d < COMPACT_DROP_N; d++) {
			lutil_set_int(L, names[d], (lua_Integer)m->dropped[d]);
		}
		lua_setfield(L, -2, "dropped");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, -2, "messages");
	lutil_set_int(L, "tokens", (lua_Integer)r->tokens);
	lutil_set_int(L, "raw_tokens", (lua_Integer)r->raw_tokens);
	lua_createtable(L, (int)r->nchunks, 0);
	for (size_t c = 0; c < r->nchunks; c++) {
		lua_createtable(L, 0, 3);
		lutil_set_int(L, "first", (lua_Integer)r->chunks[c].first + 1);
		lutil_set_int(L, "last", (lua_Integer)r->chunks[c].last + 1);
		lutil_set_int(L, "tokens", (lua_Integer)r->chunks[c].tokens);
		lua_rawseti(L, -2, (lua_Integer)c + 1);
	}
	lua_setfield(L, -2, "chunks");
	lutil_box_release(b);
	return 1;
}

/* compact.quote_known(quote_text, known_texts [, percent]) -> boolean: whether
 * the quote block is made of lines of known_texts (a list of strings, e.g.
 * earlier messages' text), by the rule compact.thread uses (percent: 80). */
static int l_quote_known(lua_State *L)
{
	size_t qlen;
	const char *q = luaL_checklstring(L, 1, &qlen);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_Integer pct = luaL_optinteger(L, 3, 80);
	luaL_argcheck(L, pct >= 1 && pct <= 100, 3, "percent must be 1..100");
	lua_Integer n = luaL_len(L, 2);
	for (lua_Integer i = 1; i <= n; i++) {
		lua_geti(L, 2, i);
		if (!lua_isstring(L, -1))
			return luaL_argerror(L, 2, "known_texts must hold strings");
		lua_pop(L, 1);
	}
	struct compact_known *k = compact_known_new();
	if (!k)
		return luaL_error(L, "compact.quote_known: out of memory");
	int oom = 0;
	for (lua_Integer i = 1; i <= n && !oom; i++) {
		size_t len;
		/* rawgeti: no metamethod may raise while k is held */
		lua_rawgeti(L, 2, i);
		const char *s = lua_tolstring(L, -1, &len);
		if (s && compact_known_add(k, s, len) < 0)
			oom = 1;
		lua_pop(L, 1);
	}
	int known = oom ? 0 : compact_quote_known(k, q, qlen, (unsigned)pct);
	compact_known_free(k);
	if (oom)
		return luaL_error(L, "compact.quote_known: out of memory");
	lua_pushboolean(L, known);
	return 1;
}

int luaopen_listdigest_compact(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "tokens", l_tokens },
		{ "thread", l_thread },
		{ "quote_known", l_quote_known },
		{ NULL, NULL },
	};
	luaL_newlib(L, fns);
	struct compact_opts o;
	compact_opts_default(&o);
	lua_createtable(L, 0, 7);
	lutil_set_int(L, "budget", (lua_Integer)o.budget);
	lutil_set_int(L, "diff_lines", (lua_Integer)o.diff_lines);
	lutil_set_int(L, "diff_budget", (lua_Integer)o.diff_budget);
	lutil_set_int(L, "diff_share", (lua_Integer)o.diff_share);
	lutil_set_int(L, "diff_min", (lua_Integer)o.diff_min);
	lutil_set_int(L, "context_lines", (lua_Integer)o.context_lines);
	lutil_set_int(L, "quote_lines", (lua_Integer)o.quote_lines);
	lutil_set_int(L, "header_tokens", (lua_Integer)o.header_tokens);
	lutil_set_int(L, "known_percent", (lua_Integer)o.known_percent);
	lua_setfield(L, -2, "defaults");
	return 1;
}

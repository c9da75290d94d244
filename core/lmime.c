/*
 * lmime: the Lua binding of mime.c, module "listdigest.mime". Builds plain
 * tables from a parsed message; every C allocation is anchored in a userdata
 * with __gc while Lua calls that may raise run. No parsing logic here.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "mime.h"
#include "modules.h"
#include "date.h"
#include "segment.h"
#include "lutil.h"

static void free_msg(void *p) { mime_free(p); }
static void free_segs(void *p) { segment_free(p); }

static void set_str(lua_State *L, const char *k, const char *s, size_t n)
{
	lua_pushlstring(L, s ? s : "", s ? n : 0);
	lua_setfield(L, -2, k);
}

static void push_segments(lua_State *L, const char *text, const struct segment *segs, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 2);
		lutil_set_str(L, "kind", segment_kind_name(segs[i].kind));
		lua_pushlstring(L, text + segs[i].off, segs[i].len);
		lua_setfield(L, -2, "text");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* A decoded header value, pushed. The malloc'ed copy lives in a box. */
static void push_decoded(lua_State *L, const struct mime_header *h)
{
	struct lutil_box *b = lutil_box(L, free);
	size_t n = 0;
	b->p = mime_header_decode(h->value, h->value_len, &n);
	if (!b->p)
		luaL_error(L, "out of memory decoding a header");
	lua_pushlstring(L, b->p, n);
	lutil_box_release(b);
	lua_remove(L, -2);
}

static void push_addresses(lua_State *L, const struct mime_address *a, size_t n)
{
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_createtable(L, 0, 2);
		lutil_set_str(L, "name", a[i].name);
		lutil_set_str(L, "addr", a[i].addr);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* mime.parse(raw [, opts]) -> msg table. opts.from_line (string): the mbox
 * From_ line; opts.body (boolean, default true): false parses headers only.
 * Raises on wrong argument types or out of memory; malformed mail returns a
 * table whose defects list what was wrong. */
static int l_parse(lua_State *L)
{
	size_t len, flen = 0;
	const char *raw = luaL_checklstring(L, 1, &len);
	const char *from_line = NULL;
	int body = 1;
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "from_line");
		if (!lua_isnil(L, -1)) {
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_argerror(L, 2, "opts.from_line must be a string");
			from_line = lua_tolstring(L, -1, &flen);
		}
		lua_getfield(L, 2, "body");
		if (!lua_isnil(L, -1))
			body = lua_toboolean(L, -1);
		lua_pop(L, 1);   /* keeps from_line anchored below */
	}
	struct lutil_box *b = lutil_box(L, free_msg);
	char err[160];
	struct mime_msg *m = NULL;
	if (mime_parse_mbox(raw, len, from_line, flen, body ? 0 : MIME_HEADERS_ONLY, &m, err,
			    sizeof err) < 0)
		return luaL_error(L, "mime.parse: %s", err);
	b->p = m;
	lua_createtable(L, 0, 24);
	int msg = lua_gettop(L);
	size_t nh = mime_header_count(m);
	lua_createtable(L, 0, (int)nh);    /* headers */
	lua_createtable(L, (int)nh, 0);    /* header_list */
	for (size_t i = 0; i < nh; i++) {
		const struct mime_header *h = mime_header_at(m, i);
		luaL_Buffer lb;
		luaL_buffinit(L, &lb);
		for (size_t k = 0; k < h->name_len; k++) {
			char c = h->name[k];
			luaL_addchar(&lb, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
		}
		luaL_pushresult(&lb);                /* name */
		push_decoded(L, h);                  /* name value */
		lua_createtable(L, 2, 0);
		lua_pushvalue(L, -3);
		lua_rawseti(L, -2, 1);
		lua_pushvalue(L, -2);
		lua_rawseti(L, -2, 2);
		lua_rawseti(L, -4, (lua_Integer)i + 1);  /* header_list[i] */
		lua_pushvalue(L, -2);
		if (lua_rawget(L, -5) == LUA_TNIL) {     /* first occurrence wins */
			lua_pop(L, 1);
			lua_rawset(L, -4);
		} else {
			lua_pop(L, 3);
		}
	}
	lua_setfield(L, msg, "header_list");
	lua_setfield(L, msg, "headers");

	size_t n;
	const char *s = mime_subject(m, &n);
	set_str(L, "subject", s, n);
	size_t nn, na;
	const char *fname = mime_from_name(m, &nn), *faddr = mime_from_addr(m, &na);
	set_str(L, "from_name", fname, nn);
	set_str(L, "from_addr", faddr, na);
	luaL_Buffer fb;
	luaL_buffinit(L, &fb);
	if (nn && na) {
		luaL_addlstring(&fb, fname, nn);
		luaL_addstring(&fb, " <");
		luaL_addlstring(&fb, faddr, na);
		luaL_addchar(&fb, '>');
	} else {
		luaL_addlstring(&fb, na ? faddr : fname, na ? na : nn);
	}
	luaL_pushresult(&fb);
	lua_setfield(L, msg, "from");

	s = mime_message_id(m, &n);
	set_str(L, "message_id", s, n);
	if (mime_message_id_synthetic(m)) {
		lua_pushboolean(L, 1);
		lua_setfield(L, msg, "message_id_synthetic");
	}
	s = mime_in_reply_to(m, &n);
	if (s)
		set_str(L, "in_reply_to", s, n);
	size_t nr = mime_reference_count(m);
	lua_createtable(L, (int)nr, 0);
	for (size_t i = 0; i < nr; i++) {
		s = mime_reference(m, i, &n);
		lua_pushlstring(L, s, n);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, msg, "references");

	int64_t t;
	int tz, has_tz;
	enum mime_date_source src = mime_date(m, &t, &tz, &has_tz);
	if (src != MIME_DATE_NONE) {
		static const char *const names[] = { "", "date", "from_line", "received" };
		lua_pushinteger(L, (lua_Integer)t);
		lua_setfield(L, msg, "date");
		lua_pushstring(L, names[src]);
		lua_setfield(L, msg, "date_source");
		if (has_tz) {
			lua_pushinteger(L, tz);
			lua_setfield(L, msg, "tz_offset");
		}
	}
	s = mime_list_id(m, &n);
	if (s)
		set_str(L, "list_id", s, n);

	if (body) {
		size_t tl;
		const char *text = mime_text(m, &tl);
		set_str(L, "text", text, tl);
		size_t ns = mime_segment_count(m);
		lua_createtable(L, (int)ns, 0);
		for (size_t i = 0; i < ns; i++) {
			const struct segment *sg = mime_segment_at(m, i);
			lua_createtable(L, 0, 2);
			lutil_set_str(L, "kind", segment_kind_name(sg->kind));
			lua_pushlstring(L, text + sg->off, sg->len);
			lua_setfield(L, -2, "text");
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setfield(L, msg, "segments");
		size_t np = mime_part_count(m);
		lua_createtable(L, (int)np, 0);
		for (size_t i = 0; i < np; i++) {
			const struct mime_part *pt = mime_part_at(m, i);
			lua_createtable(L, 0, 6);
			lutil_set_str(L, "type", pt->type);
			lutil_set_str(L, "charset", pt->charset);
			lutil_set_str(L, "filename", pt->filename);
			lutil_set_str(L, "disposition", pt->disposition);
			lutil_set_int(L, "size", (lua_Integer)pt->size);
			lutil_set_str(L, "path", pt->path ? pt->path : "");
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		lua_setfield(L, msg, "parts");
		const struct mime_address *a = mime_to(m, &n);
		push_addresses(L, a, n);
		lua_setfield(L, msg, "to");
		a = mime_cc(m, &n);
		push_addresses(L, a, n);
		lua_setfield(L, msg, "cc");
	}
	size_t nd = mime_defect_count(m);
	lua_createtable(L, (int)nd, 0);
	for (size_t i = 0; i < nd; i++) {
		lua_pushstring(L, mime_defect(m, i));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_setfield(L, msg, "defects");
	lua_pushinteger(L, (lua_Integer)len);
	lua_setfield(L, msg, "size");
	lutil_box_release(b);
	return 1;
}

/* mime.decode_header(s) -> UTF-8 string: unfolds and RFC 2047-decodes one
 * header value (up to its end if s holds more lines). */
static int l_decode_header(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct mime_header h = { "x", 1, s, len };
	push_decoded(L, &h);
	return 1;
}

/* mime.parse_date(s) -> epoch, tz_offset_minutes (nil when no zone was
 * written), or nil when s holds no date. */
static int l_parse_date(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	int64_t t;
	int tz, has;
	if (date_parse(s, len, &t, &tz, &has) < 0) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushinteger(L, (lua_Integer)t);
	if (has)
		lua_pushinteger(L, tz);
	else
		lua_pushnil(L);
	return 2;
}

/* mime.segment(text) -> segments list ({kind=, text=}...), as msg.segments. */
static int l_segment(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct lutil_box *b = lutil_box(L, free_segs);
	struct segment *segs;
	size_t n;
	char err[128];
	if (segment_text(s, len, &segs, &n, err, sizeof err) < 0)
		return luaL_error(L, "mime.segment: %s", err);
	b->p = segs;
	push_segments(L, s, segs, n);
	lutil_box_release(b);
	return 1;
}

int luaopen_listdigest_mime(lua_State *L)
{
	static const luaL_Reg fns[] = {
		{ "parse", l_parse },
		{ "decode_header", l_decode_header },
		{ "parse_date", l_parse_date },
		{ "segment", l_segment },
		{ NULL, NULL },
	};
	luaL_newlib(L, fns);
	return 1;
}

/*
 * Lua binding for the mbox reader (mbox.h): require "listdigest.mbox".
 * A box is a userdata wrapping struct mbox, created open, closed by one
 * function shared by __gc and __close, an error to use after close (as
 * liolib does for files). Messages cross as Lua strings; no parsing here.
 */
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "maildir.h"
#include "mbox.h"
#include "modules.h"

#define MBOX_MT "listdigest.mbox.box"
#define MAILDIR_MT "listdigest.mbox.maildir"

struct lbox {
	struct mbox *box; /* NULL once closed */
};

static struct lbox *check_lbox(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, MBOX_MT);
}

static struct mbox *check_box(lua_State *L, int idx)
{
	struct lbox *lb = check_lbox(L, idx);

	if (!lb->box)
		luaL_error(L, "attempt to use a closed mbox");
	return lb->box;
}

/* opts = { max_inflated = bytes } or nil */
static void check_opts(lua_State *L, int idx, struct mbox_options *opts)
{
	opts->max_inflated = 0;
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	if (lua_getfield(L, idx, "max_inflated") != LUA_TNIL) {
		lua_Integer v = lua_tointeger(L, -1);

		if (!lua_isinteger(L, -1) || v <= 0)
			luaL_argerror(L, idx, "max_inflated must be a positive integer");
		opts->max_inflated = (size_t)v;
	}
	lua_pop(L, 1);
}

/* Pushes a new, still empty box userdata (so that __gc can always run). */
static struct lbox *new_lbox(lua_State *L)
{
	struct lbox *lb = lua_newuserdatauv(L, sizeof *lb, 1);

	lb->box = NULL;
	luaL_setmetatable(L, MBOX_MT);
	return lb;
}

/* box, err = mbox.open(path [, opts]); err = "path: reason" */
static int l_open(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct mbox_options opts;
	struct lbox *lb;
	char err[256];

	check_opts(L, 2, &opts);
	lb = new_lbox(L);
	if (mbox_open(path, &opts, &lb->box, err, sizeof err) < 0) {
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: %s", path, err);
		return 2;
	}
	return 1;
}

/*
 * box, err = mbox.split(str [, opts]): the same kind of box over a Lua
 * string (mbox, mbox.gz or one raw message). The box keeps the string
 * alive and points into it, so nothing is copied.
 */
static int l_split(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	struct mbox_options opts;
	struct lbox *lb;
	char err[256];

	check_opts(L, 2, &opts);
	lb = new_lbox(L);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	if (mbox_open_mem(s, len, &opts, &lb->box, err, sizeof err) < 0) {
		luaL_pushfail(L);
		lua_pushstring(L, err);
		return 2;
	}
	return 1;
}

/* n = box:count()  (also #box) */
static int l_count(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)mbox_count(check_box(L, 1)));
	return 1;
}

/* Pushes raw (unquoted) and from_line (nil for .eml) of message I (0-based). */
static void push_message(lua_State *L, struct mbox *box, size_t i)
{
	const struct mbox_msg *m = mbox_message(box, i);

	if (m->quoted) {
		luaL_Buffer b;
		char *dst = luaL_buffinitsize(L, &b, m->len);

		luaL_pushresultsize(&b, mbox_unquote(box, i, dst));
	} else {
		lua_pushlstring(L, m->raw, m->len);
	}
	if (m->from_line)
		lua_pushlstring(L, m->from_line, m->from_len);
	else
		lua_pushnil(L);
}

/* raw, from_line = box:message(i), 1 <= i <= box:count() */
static int l_message(lua_State *L)
{
	struct mbox *box = check_box(L, 1);
	lua_Integer i = luaL_checkinteger(L, 2);

	luaL_argcheck(L, i >= 1 && (lua_Unsigned)i <= mbox_count(box), 2, "message index out of range");
	push_message(L, box, (size_t)(i - 1));
	return 2;
}

static int messages_iter(lua_State *L)
{
	struct mbox *box = check_box(L, lua_upvalueindex(1));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(2));

	if ((lua_Unsigned)i >= mbox_count(box))
		return 0;
	lua_pushinteger(L, i + 1);
	lua_copy(L, -1, lua_upvalueindex(2));
	push_message(L, box, (size_t)i);
	return 3;
}

/* for i, raw, from_line in box:messages() do ... end */
static int l_messages(lua_State *L)
{
	check_box(L, 1);
	lua_settop(L, 1);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, messages_iter, 2);
	return 1;
}

/* box:close(); also __gc and __close. Closing twice is harmless. */
static int l_close(lua_State *L)
{
	struct lbox *lb = check_lbox(L, 1);

	mbox_close(lb->box);
	lb->box = NULL;
	return 0;
}

/* box.format ("mboxo"|"mboxrd"|"eml"), box.compressed (boolean), methods */
static int l_index(lua_State *L)
{
	const char *key = lua_tostring(L, 2);

	if (key && strcmp(key, "format") == 0) {
		lua_pushstring(L, mbox_format_name(mbox_format(check_box(L, 1))));
		return 1;
	}
	if (key && strcmp(key, "compressed") == 0) {
		lua_pushboolean(L, mbox_compressed(check_box(L, 1)));
		return 1;
	}
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct lbox *lb = check_lbox(L, 1);

	if (!lb->box)
		lua_pushliteral(L, "mbox (closed)");
	else
		lua_pushfstring(L, "mbox (%s, %I messages)", mbox_format_name(mbox_format(lb->box)),
		                (lua_Integer)mbox_count(lb->box));
	return 1;
}

/*
 * mbox.maildir(dir) -> { "dir/cur/NAME", ... } sorted in delivery order, or
 * nil, "dir: reason" when dir is not a Maildir or cannot be read.
 */
static int l_maildir(lua_State *L)
{
	const char *dir = luaL_checkstring(L, 1);
	struct maildir_list **anchor;
	char err[512];

	/* the list lives in a userdata whose __gc frees it, so a memory error
	 * raised while building the table cannot leak it */
	anchor = lua_newuserdatauv(L, sizeof *anchor, 0);
	*anchor = NULL;
	luaL_setmetatable(L, MAILDIR_MT);
	if (maildir_list(dir, anchor, err, sizeof err) < 0) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", dir, err);
		return 2;
	}
	lua_createtable(L, (*anchor)->n > 0x7fffffff ? 0 : (int)(*anchor)->n, 0);
	for (size_t i = 0; i < (*anchor)->n; i++) {
		lua_pushstring(L, (*anchor)->paths[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_maildir_gc(lua_State *L)
{
	struct maildir_list **anchor = luaL_checkudata(L, 1, MAILDIR_MT);

	maildir_free(*anchor);
	*anchor = NULL;
	return 0;
}

static const luaL_Reg box_methods[] = {
	{"count", l_count},
	{"message", l_message},
	{"messages", l_messages},
	{"close", l_close},
	{NULL, NULL},
};

static const luaL_Reg box_meta[] = {
	{"__len", l_count},
	{"__gc", l_close},
	{"__close", l_close},
	{"__tostring", l_tostring},
	{NULL, NULL},
};

static const luaL_Reg funcs[] = {
	{"open", l_open},
	{"split", l_split},
	{"maildir", l_maildir},
	{NULL, NULL},
};

int luaopen_listdigest_mbox(lua_State *L)
{
	luaL_newmetatable(L, MBOX_MT);
	luaL_setfuncs(L, box_meta, 0);
	luaL_newlib(L, box_methods);
	lua_pushcclosure(L, l_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, MAILDIR_MT);
	lua_pushcfunction(L, l_maildir_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	return 1;
}

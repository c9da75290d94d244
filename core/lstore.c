/*
 * Lua binding for the message store (store.h): require "listdigest.store".
 * A store is a userdata wrapping struct store, created closed, closed by one
 * function shared by __gc and __close, an error to use after close. Caller
 * mistakes raise; failures of the world (locks, disk, a corrupt file)
 * return nil, reason. Everything the engine mallocs is anchored in a
 * userdata with __gc before any Lua call that could raise.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "modules.h"
#include "store.h"
#include "lutil.h"

#define STORE_MT "listdigest.store.store"
#define ROWS_MT "listdigest.store.rows"     /* anchors a struct store_rows */
#define BUF_MT "listdigest.store.buffer"    /* anchors a malloc'd buffer */
#define CACHE_MT "listdigest.store.entry"   /* anchors a struct store_cache_entry */

struct lstore {
	struct store *st; /* NULL until opened and once closed */
	int begun;        /* st:begin() called, no commit/rollback yet */
};

/*
 * SQLite ends a transaction by itself after some failures (disk full, I/O
 * error). Then the caller's begin is still "open" for us: commit fails,
 * rollback succeeds, and writes fail rather than run outside a transaction.
 */
static const char LOST_TX[] = "the transaction was rolled back after an earlier failure";

static int lost_transaction(struct lstore *ls)
{
	return ls->begun && !store_in_transaction(ls->st);
}

static struct lstore *check_lstore(lua_State *L, int idx)
{
	return luaL_checkudata(L, idx, STORE_MT);
}

static struct store *check_store(lua_State *L, int idx)
{
	struct lstore *ls = check_lstore(L, idx);

	if (!ls->st)
		luaL_error(L, "attempt to use a closed store");
	return ls->st;
}

/* A string argument with no NUL inside (it goes to C as a C string). */
static const char *check_text(lua_State *L, int idx)
{
	size_t len;
	const char *s = luaL_checklstring(L, idx, &len);

	luaL_argcheck(L, strlen(s) == len, idx, "string contains a NUL byte");
	return s;
}

/* Returns nil, reason (the world failed). */
static int push_fail(lua_State *L, const char *err)
{
	luaL_pushfail(L);
	lua_pushstring(L, err);
	return 2;
}

static int push_ok(lua_State *L)
{
	lua_pushboolean(L, 1);
	return 1;
}

/* Anchors: userdata whose __gc frees what the engine returned. */
static struct store_rows **new_rows_anchor(lua_State *L)
{
	struct store_rows **a = lua_newuserdatauv(L, sizeof *a, 0);

	*a = NULL;
	luaL_setmetatable(L, ROWS_MT);
	return a;
}

static int rows_gc(lua_State *L)
{
	struct store_rows **a = luaL_checkudata(L, 1, ROWS_MT);

	store_rows_free(*a);
	*a = NULL;
	return 0;
}

static char **new_buf_anchor(lua_State *L)
{
	char **a = lua_newuserdatauv(L, sizeof *a, 0);

	*a = NULL;
	luaL_setmetatable(L, BUF_MT);
	return a;
}

static int buf_gc(lua_State *L)
{
	char **a = luaL_checkudata(L, 1, BUF_MT);

	free(*a);
	*a = NULL;
	return 0;
}

static int entry_gc(lua_State *L)
{
	store_cache_clear(luaL_checkudata(L, 1, CACHE_MT));
	return 0;
}

/*
 * st, err = store.open(path [, { busy_timeout = ms, max_size = bytes }])
 * Creates the file and schema if missing (the folder must exist); err is
 * "path: reason" (not SQLite, a newer schema, not a listdigest store...).
 */
static int l_open(lua_State *L)
{
	const char *path = check_text(L, 1);
	struct store_options opts = {0};
	struct lstore *ls;
	char err[512];

	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "busy_timeout") != LUA_TNIL) {
			int isint;
			lua_Integer ms = lua_tointegerx(L, -1, &isint);

			luaL_argcheck(L, isint && ms >= 0 && ms <= 0x7fffffff, 2,
			              "busy_timeout must be a non-negative integer (ms)");
			opts.busy_timeout_ms = ms == 0 ? -1 : (int)ms;
		}
		lua_pop(L, 1);
		if (lua_getfield(L, 2, "max_size") != LUA_TNIL) {
			int isint;
			lua_Integer bytes = lua_tointegerx(L, -1, &isint);

			luaL_argcheck(L, isint && bytes > 0, 2, "max_size must be a positive integer (bytes)");
			opts.max_size = (int64_t)bytes;
		}
		lua_pop(L, 1);
	}
	ls = lua_newuserdatauv(L, sizeof *ls, 1);
	ls->st = NULL;
	ls->begun = 0;
	luaL_setmetatable(L, STORE_MT);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1);
	if (store_open(path, &opts, &ls->st, err, sizeof err) < 0) {
		luaL_pushfail(L);
		lua_pushfstring(L, "%s: %s", path, err);
		return 2;
	}
	return 1;
}

/* st:close(); also __gc and __close. Rolls back an open transaction. */
static int l_close(lua_State *L)
{
	struct lstore *ls = check_lstore(L, 1);

	store_close(ls->st);
	ls->st = NULL;
	ls->begun = 0;
	return 0;
}

/* st:begin() -> true | nil, err. Raises inside a transaction (no nesting). */
static int l_begin(lua_State *L)
{
	struct lstore *ls = check_lstore(L, 1);
	struct store *st = check_store(L, 1);
	char err[512];

	if (ls->begun || store_in_transaction(st))
		return luaL_error(L, "store: begin inside a transaction (transactions do not nest)");
	if (store_begin(st, err, sizeof err) < 0)
		return push_fail(L, err);
	ls->begun = 1;
	return push_ok(L);
}

/* st:commit() -> true | nil, err (then rolled back). Raises with no transaction. */
static int l_commit(lua_State *L)
{
	struct lstore *ls = check_lstore(L, 1);
	struct store *st = check_store(L, 1);
	char err[512];

	if (!ls->begun)
		return luaL_error(L, "store: commit without begin");
	ls->begun = 0;
	if (!store_in_transaction(st))
		return push_fail(L, LOST_TX);
	if (store_commit(st, err, sizeof err) < 0)
		return push_fail(L, err);
	return push_ok(L);
}

/* st:rollback() -> true | nil, err. Raises with no transaction. */
static int l_rollback(lua_State *L)
{
	struct lstore *ls = check_lstore(L, 1);
	struct store *st = check_store(L, 1);
	char err[512];

	if (!ls->begun)
		return luaL_error(L, "store: rollback without begin");
	ls->begun = 0;
	if (!store_in_transaction(st))
		return push_ok(L); /* SQLite already did it */
	if (store_rollback(st, err, sizeof err) < 0)
		return push_fail(L, err);
	return push_ok(L);
}

/*
 * Field K of the item table at IDX (raw access, so the value stays alive in
 * the item): a string without NUL, or NULL when nil and OPTIONAL.
 */
static const char *item_text(lua_State *L, int idx, lua_Integer i, const char *k,
                             int optional, size_t *len_out)
{
	size_t len;
	const char *s;
	int t;

	lua_pushstring(L, k);
	t = lua_rawget(L, idx);
	if (t == LUA_TNIL && optional) {
		lua_pop(L, 1);
		return NULL;
	}
	if (t != LUA_TSTRING)
		luaL_error(L, "bad item #%I to 'put_messages' (%s must be a string, got %s)",
		           i, k, luaL_typename(L, -1));
	s = lua_tolstring(L, -1, &len);
	if (!len_out && strlen(s) != len)
		luaL_error(L, "bad item #%I to 'put_messages' (%s contains a NUL byte)", i, k);
	if (len_out)
		*len_out = len;
	lua_pop(L, 1);
	return s;
}

/* Integer field K of the item at IDX; *has_out = 0 when nil. */
static int64_t item_int(lua_State *L, int idx, lua_Integer i, const char *k, int *has_out)
{
	lua_Integer v = 0;
	int isint;

	lua_pushstring(L, k);
	*has_out = lua_rawget(L, idx) != LUA_TNIL;
	if (*has_out) {
		v = lua_tointegerx(L, -1, &isint);
		if (!isint || lua_type(L, -1) != LUA_TNUMBER)
			luaL_error(L, "bad item #%I to 'put_messages' (%s must be an integer, got %s)",
			           i, k, luaL_typename(L, -1));
	}
	lua_pop(L, 1);
	return (int64_t)v;
}

/*
 * n_new = st:put_messages(list, items) | nil, err
 * items[i] = { message_id=, raw=, date=, received=, subject=, from=,
 * in_reply_to=, references={...} }; see store_put_messages. Every item is
 * checked (raising on a mistake) before anything is written, so a raise
 * never leaves a transaction of ours open. Strings are borrowed from the
 * item tables, which the argument keeps alive.
 */
static int l_put_messages(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *list = check_text(L, 2);
	struct store_message *msgs;
	const char **refs;
	lua_Integer n, nrefs = 0, r = 0;
	size_t n_new;
	char err[512];

	luaL_checktype(L, 3, LUA_TTABLE);
	lua_settop(L, 3);
	n = (lua_Integer)lua_rawlen(L, 3);
	/* Pass 1: count references so one array can hold them all. */
	for (lua_Integer i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 3, i) != LUA_TTABLE)
			luaL_error(L, "bad item #%I to 'put_messages' (table expected, got %s)",
			           i, luaL_typename(L, -1));
		lua_pushliteral(L, "references");
		if (lua_rawget(L, -2) == LUA_TTABLE)
			nrefs += (lua_Integer)lua_rawlen(L, -1);
		lua_pop(L, 2);
	}
	msgs = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *msgs, 0);            /* 4 */
	refs = lua_newuserdatauv(L, (size_t)(nrefs > 0 ? nrefs : 1) * sizeof *refs, 0);     /* 5 */
	/* Pass 2: fill the C view of every item. */
	for (lua_Integer i = 1; i <= n; i++) {
		struct store_message *m = &msgs[i - 1];
		int t;

		memset(m, 0, sizeof *m);
		lua_rawgeti(L, 3, i); /* 6 */
		m->message_id = item_text(L, 6, i, "message_id", 0, NULL);
		if (!*m->message_id)
			luaL_error(L, "bad item #%I to 'put_messages' (message_id is empty)", i);
		m->raw = item_text(L, 6, i, "raw", 0, &m->raw_len);
		m->date = item_int(L, 6, i, "date", &m->has_date);
		m->received = item_int(L, 6, i, "received", &m->has_received);
		m->subject = item_text(L, 6, i, "subject", 1, NULL);
		m->from = item_text(L, 6, i, "from", 1, NULL);
		m->in_reply_to = item_text(L, 6, i, "in_reply_to", 1, NULL);
		lua_pushliteral(L, "references");
		t = lua_rawget(L, 6); /* 7 */
		if (t == LUA_TTABLE) {
			lua_Integer k, nr = (lua_Integer)lua_rawlen(L, 7);

			luaL_argcheck(L, r + nr <= nrefs, 3, "references changed while being read");
			m->references = refs + r;
			for (k = 1; k <= nr; k++) {
				size_t len;

				if (lua_rawgeti(L, 7, k) != LUA_TSTRING)
					luaL_error(L, "bad item #%I to 'put_messages' (references[%I] must be a "
					           "string, got %s)", i, k, luaL_typename(L, -1));
				refs[r] = lua_tolstring(L, -1, &len);
				if (strlen(refs[r]) != len)
					luaL_error(L, "bad item #%I to 'put_messages' (references[%I] contains "
					           "a NUL byte)", i, k);
				r++;
				lua_pop(L, 1);
			}
			m->n_references = (size_t)nr;
		} else if (t != LUA_TNIL) {
			luaL_error(L, "bad item #%I to 'put_messages' (references must be a table, got %s)",
			           i, luaL_typename(L, 7));
		}
		lua_settop(L, 5);
	}
	/* No Lua call from here to the result: nothing can raise mid-write. */
	if (lost_transaction(check_lstore(L, 1)))
		return push_fail(L, LOST_TX);
	if (store_put_messages(st, list, msgs, (size_t)n, &n_new, err, sizeof err) < 0)
		return push_fail(L, err);
	lua_pushinteger(L, (lua_Integer)n_new);
	return 1;
}

/* st:has(message_id) -> boolean | nil, err */
static int l_has(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *id = check_text(L, 2);
	char err[512];
	int has;

	if (store_has(st, id, &has, err, sizeof err) < 0)
		return push_fail(L, err);
	lua_pushboolean(L, has);
	return 1;
}

/* st:raw(message_id) -> raw bytes | nil (not stored) | nil, err */
static int l_raw(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *id = check_text(L, 2);
	char **anchor = new_buf_anchor(L);
	size_t len;
	char err[512];

	if (store_raw(st, id, anchor, &len, err, sizeof err) < 0)
		return push_fail(L, err);
	if (!*anchor) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushlstring(L, *anchor, len);
	free(*anchor);
	*anchor = NULL;
	return 1;
}

static void set_opt_string(lua_State *L, const char *k, const char *v)
{
	if (v) {
		lutil_set_str(L, k, v);
	}
}

/* Pushes { {message_id=, date=, received=, subject=, from=, in_reply_to=, references={} } ...} */
static void push_rows(lua_State *L, const struct store_rows *rows)
{
	lua_createtable(L, rows->n > 0x7fffffff ? 0 : (int)rows->n, 0);
	for (size_t i = 0; i < rows->n; i++) {
		const struct store_message *m = &rows->v[i];

		lua_createtable(L, 0, 7);
		lutil_set_str(L, "message_id", m->message_id);
		if (m->has_date) {
			lutil_set_int(L, "date", (lua_Integer)m->date);
		}
		if (m->has_received) {
			lutil_set_int(L, "received", (lua_Integer)m->received);
		}
		set_opt_string(L, "subject", m->subject);
		set_opt_string(L, "from", m->from);
		set_opt_string(L, "in_reply_to", m->in_reply_to);
		lua_createtable(L, m->n_references > 0x7fffffff ? 0 : (int)m->n_references, 0);
		for (size_t k = 0; k < m->n_references; k++) {
			lua_pushstring(L, m->references[k]);
			lua_rawseti(L, -2, (lua_Integer)k + 1);
		}
		lua_setfield(L, -2, "references");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* Optional integer field K of the table at IDX. */
static int opt_int_field(lua_State *L, int idx, const char *k, int64_t *v_out)
{
	int has = lua_getfield(L, idx, k) != LUA_TNIL, isint = 1;

	if (has) {
		*v_out = (int64_t)lua_tointegerx(L, -1, &isint);
		if (!isint || lua_type(L, -1) != LUA_TNUMBER)
			luaL_argerror(L, idx, lua_pushfstring(L, "%s must be an integer", k));
	}
	lua_pop(L, 1);
	return has;
}

/*
 * st:messages{ list = NAME, since = t0, ["until"] = t1, by = "date"|"received" }
 * -> rows | nil, err. since <= field < until, both optional; by defaults to
 * "date"; ordered by the field then Message-ID; no raw.
 */
static int l_messages(lua_State *L)
{
	struct store *st = check_store(L, 1);
	struct store_query q = {0};
	struct store_rows **anchor;
	char err[512];

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	if (lua_getfield(L, 2, "list") != LUA_TSTRING)
		luaL_argerror(L, 2, "list must be a string");
	q.list = lua_tostring(L, -1); /* 3: kept on the stack */
	if (lua_getfield(L, 2, "by") != LUA_TNIL) {
		const char *by = lua_tostring(L, -1);

		if (!by || lua_type(L, -1) != LUA_TSTRING ||
		    (strcmp(by, "date") != 0 && strcmp(by, "received") != 0))
			luaL_argerror(L, 2, "by must be \"date\" or \"received\"");
		q.by = by[0] == 'r' ? STORE_BY_RECEIVED : STORE_BY_DATE;
	}
	lua_pop(L, 1);
	q.has_since = opt_int_field(L, 2, "since", &q.since);
	q.has_until = opt_int_field(L, 2, "until", &q.until);
	anchor = new_rows_anchor(L);
	if (store_query(st, &q, anchor, err, sizeof err) < 0)
		return push_fail(L, err);
	push_rows(L, *anchor);
	return 1;
}

/* st:lookup{ id, ... } -> rows (stored ones, in the order given) | nil, err */
static int l_lookup(lua_State *L)
{
	struct store *st = check_store(L, 1);
	struct store_rows **anchor;
	const char **ids;
	lua_Integer n;
	char err[512];

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	n = (lua_Integer)lua_rawlen(L, 2);
	ids = lua_newuserdatauv(L, (size_t)(n > 0 ? n : 1) * sizeof *ids, 0);
	for (lua_Integer i = 1; i <= n; i++) {
		size_t len;

		if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
			luaL_argerror(L, 2, lua_pushfstring(L, "ids[%I] must be a string", i));
		ids[i - 1] = lua_tolstring(L, -1, &len);
		if (strlen(ids[i - 1]) != len)
			luaL_argerror(L, 2, lua_pushfstring(L, "ids[%I] contains a NUL byte", i));
		lua_pop(L, 1); /* the table keeps it alive */
	}
	anchor = new_rows_anchor(L);
	if (store_lookup(st, ids, (size_t)n, anchor, err, sizeof err) < 0)
		return push_fail(L, err);
	push_rows(L, *anchor);
	return 1;
}

/* st:referencing(id) -> { ids of messages naming id in In-Reply-To/References } */
static int l_referencing(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *id = check_text(L, 2);
	struct store_rows **anchor = new_rows_anchor(L);
	char err[512];

	if (store_referencing(st, id, anchor, err, sizeof err) < 0)
		return push_fail(L, err);
	lua_createtable(L, (*anchor)->n > 0x7fffffff ? 0 : (int)(*anchor)->n, 0);
	for (size_t i = 0; i < (*anchor)->n; i++) {
		lua_pushstring(L, (*anchor)->v[i].message_id);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* st:count([list]) -> messages of list (of the store without one) | nil, err */
static int l_count(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *list = lua_isnoneornil(L, 2) ? NULL : check_text(L, 2);
	int64_t n;
	char err[512];

	if (store_count(st, list, &n, err, sizeof err) < 0)
		return push_fail(L, err);
	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

/* st:state(list, key) -> value | nil (unset) | nil, err */
static int l_state(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *list = check_text(L, 2), *key = check_text(L, 3);
	char **anchor = new_buf_anchor(L);
	size_t len;
	char err[512];

	if (store_state_get(st, list, key, anchor, &len, err, sizeof err) < 0)
		return push_fail(L, err);
	if (!*anchor) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushlstring(L, *anchor, len);
	free(*anchor);
	*anchor = NULL;
	return 1;
}

/* st:set_state(list, key, value|nil) -> true | nil, err (nil unsets) */
static int l_set_state(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *list = check_text(L, 2), *key = check_text(L, 3), *value = NULL;
	size_t len = 0;
	char err[512];

	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TSTRING);
		value = lua_tolstring(L, 4, &len);
	}
	if (lost_transaction(check_lstore(L, 1)))
		return push_fail(L, LOST_TX);
	if (store_state_set(st, list, key, value, len, err, sizeof err) < 0)
		return push_fail(L, err);
	return push_ok(L);
}

/* st:cache_get(key) -> value, meta|nil, created, updated | nil (absent) | nil, err */
static int l_cache_get(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *key = check_text(L, 2);
	struct store_cache_entry *e = lua_newuserdatauv(L, sizeof *e, 0);
	char err[512];
	int found;

	memset(e, 0, sizeof *e);
	luaL_setmetatable(L, CACHE_MT);
	if (store_cache_get(st, key, e, &found, err, sizeof err) < 0)
		return push_fail(L, err);
	if (!found) {
		lua_pushnil(L);
		return 1;
	}
	lua_pushlstring(L, e->value, e->len);
	if (e->meta)
		lua_pushstring(L, e->meta);
	else
		lua_pushnil(L);
	lua_pushinteger(L, (lua_Integer)e->created);
	lua_pushinteger(L, (lua_Integer)e->updated);
	store_cache_clear(e);
	return 4;
}

/* st:cache_put(key, value|nil [, meta]) -> true | nil, err (value nil deletes) */
static int l_cache_put(lua_State *L)
{
	struct store *st = check_store(L, 1);
	const char *key = check_text(L, 2), *value = NULL, *meta = NULL;
	size_t len = 0;
	char err[512];

	if (!lua_isnoneornil(L, 3)) {
		luaL_checktype(L, 3, LUA_TSTRING);
		value = lua_tolstring(L, 3, &len);
	}
	if (!lua_isnoneornil(L, 4))
		meta = check_text(L, 4);
	if (lost_transaction(check_lstore(L, 1)))
		return push_fail(L, LOST_TX);
	if (store_cache_put(st, key, value, len, meta, err, sizeof err) < 0)
		return push_fail(L, err);
	return push_ok(L);
}

/* st:check() -> true | nil, "what PRAGMA integrity_check found" */
static int l_check(lua_State *L)
{
	struct store *st = check_store(L, 1);
	char err[512], report[1024];
	int ok;

	if (store_check(st, &ok, report, sizeof report, err, sizeof err) < 0)
		return push_fail(L, err);
	if (!ok)
		return push_fail(L, report);
	return push_ok(L);
}

/* st.path (works after close too), methods */
static int l_index(lua_State *L)
{
	const char *key = lua_tostring(L, 2);

	if (key && strcmp(key, "path") == 0) {
		check_lstore(L, 1);
		lua_getiuservalue(L, 1, 1);
		return 1;
	}
	lua_pushvalue(L, 2);
	lua_rawget(L, lua_upvalueindex(1));
	return 1;
}

static int l_tostring(lua_State *L)
{
	struct lstore *ls = check_lstore(L, 1);

	lua_getiuservalue(L, 1, 1);
	lua_pushfstring(L, "store (%s%s)", lua_tostring(L, -1), ls->st ? "" : ", closed");
	return 1;
}

static const luaL_Reg store_methods[] = {
	{"close", l_close},
	{"begin", l_begin},
	{"commit", l_commit},
	{"rollback", l_rollback},
	{"put_messages", l_put_messages},
	{"has", l_has},
	{"raw", l_raw},
	{"messages", l_messages},
	{"lookup", l_lookup},
	{"referencing", l_referencing},
	{"count", l_count},
	{"state", l_state},
	{"set_state", l_set_state},
	{"cache_get", l_cache_get},
	{"cache_put", l_cache_put},
	{"check", l_check},
	{NULL, NULL},
};

static const luaL_Reg store_meta[] = {
	{"__gc", l_close},
	{"__close", l_close},
	{"__tostring", l_tostring},
	{NULL, NULL},
};

static const luaL_Reg funcs[] = {
	{"open", l_open},
	{NULL, NULL},
};

int luaopen_listdigest_store(lua_State *L)
{
	luaL_newmetatable(L, STORE_MT);
	luaL_setfuncs(L, store_meta, 0);
	luaL_newlib(L, store_methods);
	lua_pushcclosure(L, l_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_newmetatable(L, ROWS_MT);
	lua_pushcfunction(L, rows_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, BUF_MT);
	lua_pushcfunction(L, buf_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, CACHE_MT);
	lua_pushcfunction(L, entry_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newlib(L, funcs);
	lutil_set_int(L, "schema_version", STORE_SCHEMA_VERSION);
	return 1;
}

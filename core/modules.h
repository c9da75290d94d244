/*
 * The C modules listdigest exposes to Lua. The same luaopen_* functions are
 * preloaded into the binary (main.c) and exported from build/listdigest.so,
 * where Lua's all-in-one loader finds "listdigest.mime" as
 * luaopen_listdigest_mime.
 */
#ifndef LISTDIGEST_MODULES_H
#define LISTDIGEST_MODULES_H

#include <lua.h>

int luaopen_listdigest_mbox(lua_State *L);
int luaopen_listdigest_mime(lua_State *L);
int luaopen_listdigest_thread(lua_State *L);
int luaopen_listdigest_json(lua_State *L);
int luaopen_listdigest_hash(lua_State *L);
int luaopen_listdigest_store(lua_State *L);
int luaopen_listdigest_atom(lua_State *L);
int luaopen_listdigest_http(lua_State *L);
int luaopen_listdigest_llm(lua_State *L);
int luaopen_listdigest_compact(lua_State *L);
int luaopen_listdigest_mailout(lua_State *L);

#define LISTDIGEST_MODULES(X)              \
	X("listdigest.mbox", luaopen_listdigest_mbox)     \
	X("listdigest.mime", luaopen_listdigest_mime)     \
	X("listdigest.thread", luaopen_listdigest_thread) \
	X("listdigest.hash", luaopen_listdigest_hash) \
	X("listdigest.json", luaopen_listdigest_json)     \
	X("listdigest.compact", luaopen_listdigest_compact) \
	X("listdigest.store", luaopen_listdigest_store)   \
	X("listdigest.atom", luaopen_listdigest_atom)     \
	X("listdigest.http", luaopen_listdigest_http)     \
	X("listdigest.llm", luaopen_listdigest_llm)     \
	X("listdigest.mailout", luaopen_listdigest_mailout)

#endif

/*
 * The message store over SQLite: schema creation and forward migration,
 * cached prepared statements, zlib-compressed raw messages, window and
 * reference queries, fetch state and a key/value cache. See store.h for the
 * contract. Not a fetcher or a parser, and no Lua here.
 */
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

/* "LDST": marks a listdigest store, so another program's database is refused. */
#define STORE_APPLICATION_ID 0x4c445354

/*
 * migrations[v] takes the schema from version v to v + 1. Append only:
 * a released step is never edited, since files in the wild ran it.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id TEXT NOT NULL UNIQUE,"
	"  date INTEGER,"                 /* Unix seconds from Date:, UTC */
	"  received INTEGER,"             /* when the store got it */
	"  subject TEXT,"
	"  from_header TEXT,"
	"  in_reply_to TEXT,"
	"  raw_len INTEGER NOT NULL"      /* size of the raw message */
	");"
	/* Apart, so that queries over the fields never page through mail bodies. */
	"CREATE TABLE message_raw ("
	"  message INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
	"  raw BLOB NOT NULL"             /* zlib (RFC 1950) of the raw message */
	");"
	"CREATE INDEX messages_date ON messages(date);"
	"CREATE INDEX messages_received ON messages(received);"
	"CREATE INDEX messages_in_reply_to ON messages(in_reply_to);"
	/* A message can be in several lists (cross-posting). */
	"CREATE TABLE message_lists ("
	"  list TEXT NOT NULL,"
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	"  PRIMARY KEY (list, message)"
	") WITHOUT ROWID;"
	"CREATE INDEX message_lists_message ON message_lists(message);"
	/* References: ids in header order; indexed by the id they name. */
	"CREATE TABLE refs ("
	"  message INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	"  pos INTEGER NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  PRIMARY KEY (message, pos)"
	") WITHOUT ROWID;"
	"CREATE INDEX refs_ref ON refs(ref);"
	"CREATE TABLE fetch_state ("
	"  list TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  value TEXT NOT NULL,"
	"  updated INTEGER NOT NULL,"
	"  PRIMARY KEY (list, key)"
	") WITHOUT ROWID;"
	"CREATE TABLE cache ("
	"  key TEXT PRIMARY KEY,"
	"  value BLOB NOT NULL,"
	"  meta TEXT,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL"
	") WITHOUT ROWID;",
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])
_Static_assert(N_MIGRATIONS == STORE_SCHEMA_VERSION, "one migration per schema version");

#define MSG_COLS "m.id, m.message_id, m.date, m.received, m.subject, m.from_header, m.in_reply_to, m.raw_len"

enum stmt_id {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_FIND, S_INSERT_MSG, S_INSERT_RAW, S_INSERT_LIST, S_INSERT_REF, S_RAW,
	S_BY_DATE, S_BY_RECEIVED, S_LOOKUP, S_REFS_OF, S_REFERENCING,
	S_COUNT_LIST, S_COUNT_ALL,
	S_STATE_GET, S_STATE_SET, S_STATE_DEL,
	S_CACHE_GET, S_CACHE_PUT, S_CACHE_DEL,
	N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT store_put",
	[S_RELEASE] = "RELEASE store_put",
	[S_ROLLBACK_TO] = "ROLLBACK TO store_put",
	[S_FIND] = "SELECT id FROM messages WHERE message_id = ?1",
	[S_INSERT_MSG] = "INSERT INTO messages (message_id, date, received, subject, from_header,"
	                 " in_reply_to, raw_len) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
	                 " ON CONFLICT (message_id) DO NOTHING",
	[S_INSERT_RAW] = "INSERT INTO message_raw (message, raw) VALUES (?1, ?2)",
	[S_INSERT_LIST] = "INSERT INTO message_lists (list, message) VALUES (?1, ?2)"
	                  " ON CONFLICT DO NOTHING",
	[S_INSERT_REF] = "INSERT INTO refs (message, pos, ref) VALUES (?1, ?2, ?3)",
	[S_RAW] = "SELECT m.raw_len, r.raw FROM messages m JOIN message_raw r ON r.message = m.id"
	          " WHERE m.message_id = ?1",
	/* "?2 IS NULL OR" keeps one statement for bounded and unbounded windows. */
	[S_BY_DATE] = "SELECT " MSG_COLS " FROM message_lists l JOIN messages m ON m.id = l.message"
	              " WHERE l.list = ?1 AND (?2 IS NULL OR m.date >= ?2) AND (?3 IS NULL OR m.date < ?3)"
	              " ORDER BY m.date, m.message_id",
	[S_BY_RECEIVED] = "SELECT " MSG_COLS " FROM message_lists l JOIN messages m ON m.id = l.message"
	                  " WHERE l.list = ?1 AND (?2 IS NULL OR m.received >= ?2)"
	                  " AND (?3 IS NULL OR m.received < ?3)"
	                  " ORDER BY m.received, m.message_id",
	[S_LOOKUP] = "SELECT " MSG_COLS " FROM messages m WHERE m.message_id = ?1",
	[S_REFS_OF] = "SELECT ref FROM refs WHERE message = ?1 ORDER BY pos",
	[S_REFERENCING] = "SELECT " MSG_COLS " FROM messages m WHERE m.id IN ("
	                  " SELECT id FROM messages WHERE in_reply_to = ?1"
	                  " UNION SELECT message FROM refs WHERE ref = ?1)"
	                  " ORDER BY m.date, m.message_id",
	[S_COUNT_LIST] = "SELECT count(*) FROM message_lists WHERE list = ?1",
	[S_COUNT_ALL] = "SELECT count(*) FROM messages",
	[S_STATE_GET] = "SELECT value FROM fetch_state WHERE list = ?1 AND key = ?2",
	[S_STATE_SET] = "INSERT INTO fetch_state (list, key, value, updated) VALUES (?1, ?2, ?3, ?4)"
	                " ON CONFLICT (list, key) DO UPDATE SET value = excluded.value,"
	                " updated = excluded.updated",
	[S_STATE_DEL] = "DELETE FROM fetch_state WHERE list = ?1 AND key = ?2",
	[S_CACHE_GET] = "SELECT value, meta, created, updated FROM cache WHERE key = ?1",
	[S_CACHE_PUT] = "INSERT INTO cache (key, value, meta, created, updated) VALUES (?1, ?2, ?3, ?4, ?4)"
	                " ON CONFLICT (key) DO UPDATE SET value = excluded.value, meta = excluded.meta,"
	                " updated = excluded.updated",
	[S_CACHE_DEL] = "DELETE FROM cache WHERE key = ?1",
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmt[N_STMTS];  /* prepared on first use, finalized on close */
	z_stream zs;                  /* the calling thread's deflate state, reused */
	int zs_ready;
};

/* Bump allocator for query results: freed in one go by store_rows_free. */
struct store_arena {
	struct store_arena *next;
	size_t used, cap;
	alignas(max_align_t) unsigned char data[];
};

#define ARENA_CHUNK ((size_t)64 << 10)

/* Fails with sqlite's message for DB, after WHAT ("storing <id>"). */
static int db_fail(sqlite3 *db, char *err, size_t errlen, const char *what)
{
	return util_fail(err, errlen, "%s: %s", what, sqlite3_errmsg(db));
}

/* The cached statement ID, reset and unbound, or NULL with ERR set. */
static sqlite3_stmt *stmt(struct store *st, enum stmt_id id, char *err, size_t errlen)
{
	sqlite3_stmt *s = st->stmt[id];

	if (!s) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s, NULL) != SQLITE_OK) {
			db_fail(st->db, err, errlen, "preparing a statement");
			return NULL;
		}
		st->stmt[id] = s;
		return s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

/* Steps a statement that returns no rows, then resets it. */
static int run(struct store *st, enum stmt_id id, char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *s = stmt(st, id, err, errlen);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return db_fail(st->db, err, errlen, what);
	return 0;
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

static void bind_opt_int(sqlite3_stmt *s, int i, int has, int64_t v)
{
	if (has)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

/* Runs one pragma or statement that yields one integer (or none: *v_out = 0). */
static int exec_int(sqlite3 *db, const char *sql, int64_t *v_out, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	int rc;

	*v_out = 0;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, errlen, "opening");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*v_out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(db, err, errlen, "opening");
	return 0;
}

static int exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		util_fail(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* PRAGMA journal_mode = WAL; in-memory databases answer "memory". */
static int set_wal(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *s;
	char mode[16] = "";
	int rc;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
		return db_fail(db, err, errlen, "setting WAL mode");
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_text(s, 0))
		snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return db_fail(db, err, errlen, "setting WAL mode");
	if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
		return util_fail(err, errlen, "cannot use WAL mode (journal mode stays %s)", mode);
	return 0;
}

/*
 * Refuses, before changing anything (even the journal mode), a file that is
 * not SQLite, a newer schema, or another program's database: one with a
 * foreign application_id, or with tables and none of our marks.
 */
static int identify(sqlite3 *db, char *err, size_t errlen)
{
	int64_t version, app, tables;

	if (exec_int(db, "PRAGMA user_version", &version, err, errlen) < 0 ||
	    exec_int(db, "PRAGMA application_id", &app, err, errlen) < 0 ||
	    exec_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err, errlen) < 0)
		return -1;
	if (app != 0 && app != STORE_APPLICATION_ID)
		return util_fail(err, errlen, "not a listdigest store (application_id %lld)", (long long)app);
	if (version > STORE_SCHEMA_VERSION)
		return util_fail(err, errlen, "schema version %lld is newer than this listdigest "
		                 "understands (%d)", (long long)version, STORE_SCHEMA_VERSION);
	if (version == 0 && app == 0 && tables > 0)
		return util_fail(err, errlen, "not a listdigest store (it has other tables)");
	return 0;
}

/*
 * Brings the schema to STORE_SCHEMA_VERSION. Each step re-reads the version
 * inside its write transaction, so two processes opening a new file at once
 * do not both create the tables.
 */
static int migrate(sqlite3 *db, char *err, size_t errlen)
{
	int64_t version, app, tables;
	char sql[64];

	if (exec_int(db, "PRAGMA user_version", &version, err, errlen) < 0)
		return -1;
	if (version > STORE_SCHEMA_VERSION)
		return util_fail(err, errlen, "schema version %lld is newer than this listdigest "
		                 "understands (%d)", (long long)version, STORE_SCHEMA_VERSION);
	while (version < STORE_SCHEMA_VERSION) {
		if (exec_sql(db, "BEGIN IMMEDIATE", err, errlen, "migrating the schema") < 0)
			return -1;
		if (exec_int(db, "PRAGMA user_version", &version, err, errlen) < 0 ||
		    exec_int(db, "PRAGMA application_id", &app, err, errlen) < 0 ||
		    exec_int(db, "SELECT count(*) FROM sqlite_schema", &tables, err, errlen) < 0)
			goto fail;
		if (version >= STORE_SCHEMA_VERSION) {
			exec_sql(db, "ROLLBACK", NULL, 0, "");
			break;
		}
		if (app != 0 && app != STORE_APPLICATION_ID) {
			util_fail(err, errlen, "not a listdigest store (application_id %lld)", (long long)app);
			goto fail;
		}
		if (version == 0 && tables > 0) {
			util_fail(err, errlen, "not a listdigest store (it has other tables)");
			goto fail;
		}
		snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)version + 1);
		if (exec_sql(db, migrations[version], err, errlen, "migrating the schema") < 0 ||
		    exec_sql(db, sql, err, errlen, "migrating the schema") < 0 ||
		    exec_sql(db, "PRAGMA application_id = 1279546196", err, errlen,
		             "migrating the schema") < 0 ||
		    exec_sql(db, "COMMIT", err, errlen, "migrating the schema") < 0)
			goto fail;
		version++;
	}
	if (exec_int(db, "PRAGMA application_id", &app, err, errlen) < 0)
		return -1;
	if (app != STORE_APPLICATION_ID)
		return util_fail(err, errlen, "not a listdigest store (application_id %lld)", (long long)app);
	return 0;
fail:
	if (!sqlite3_get_autocommit(db))
		exec_sql(db, "ROLLBACK", NULL, 0, "");
	return -1;
}
_Static_assert(STORE_APPLICATION_ID == 1279546196, "the pragma above spells it in decimal");

/* PRAGMA max_page_count from a size in bytes (at least one page). */
static int set_max_size(sqlite3 *db, int64_t bytes, char *err, size_t errlen)
{
	int64_t page, pages;
	char sql[64];

	if (exec_int(db, "PRAGMA page_size", &page, err, errlen) < 0)
		return -1;
	pages = page > 0 ? bytes / page : 1;
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)(pages > 0 ? pages : 1));
	return exec_int(db, sql, &pages, err, errlen);
}

int store_open(const char *path, const struct store_options *opts,
               struct store **st_out, char *err, size_t errlen)
{
	struct store *st;
	int timeout = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : STORE_BUSY_TIMEOUT_MS;
	int rc;

	*st_out = NULL;
	st = calloc(1, sizeof *st);
	if (!st || !(st->path = strdup(path))) {
		free(st);
		return util_fail(err, errlen, "out of memory");
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		if (st->db)
			db_fail(st->db, err, errlen, "opening");
		else
			util_fail(err, errlen, "out of memory");
		store_close(st);
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, timeout < 0 ? 0 : timeout);
	/*
	 * synchronous = NORMAL in WAL mode: a power cut may lose the last
	 * commits but never corrupts the file; a killed process loses nothing
	 * committed.
	 */
	if (identify(st->db, err, errlen) < 0 ||
	    set_wal(st->db, err, errlen) < 0 ||
	    exec_sql(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL",
	             err, errlen, "configuring") < 0 ||
	    migrate(st->db, err, errlen) < 0 ||
	    (opts && opts->max_size > 0 && set_max_size(st->db, opts->max_size, err, errlen) < 0)) {
		store_close(st);
		return -1;
	}
	*st_out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < N_STMTS; i++)
		sqlite3_finalize(st->stmt[i]);
	/* Closing rolls back an open transaction; the last closer checkpoints. */
	sqlite3_close_v2(st->db);
	if (st->zs_ready)
		deflateEnd(&st->zs);
	free(st->path);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

int store_in_transaction(const struct store *st)
{
	return !sqlite3_get_autocommit(st->db);
}

int store_begin(struct store *st, char *err, size_t errlen)
{
	if (store_in_transaction(st))
		return util_fail(err, errlen, "a transaction is already open");
	return run(st, S_BEGIN, err, errlen, "beginning a transaction");
}

int store_commit(struct store *st, char *err, size_t errlen)
{
	if (!store_in_transaction(st))
		return util_fail(err, errlen, "no transaction is open");
	if (run(st, S_COMMIT, err, errlen, "committing") == 0)
		return 0;
	if (store_in_transaction(st))
		run(st, S_ROLLBACK, NULL, 0, "");
	return -1;
}

int store_rollback(struct store *st, char *err, size_t errlen)
{
	if (!store_in_transaction(st))
		return util_fail(err, errlen, "no transaction is open");
	return run(st, S_ROLLBACK, err, errlen, "rolling back");
}

/* Row id of MESSAGE_ID in *id_out, 0 when not stored. */
static int find(struct store *st, const char *message_id, int64_t *id_out,
                char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, S_FIND, err, errlen);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	*id_out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "looking up a message");
	return 0;
}

/* Raw bytes compressed per round of store_put_messages (bounds the buffers). */
#define PUT_WINDOW ((size_t)32 << 20)
/* Below this many raw bytes to compress, threads cost more than they save. */
#define PARALLEL_MIN ((size_t)1 << 20)
#define MAX_THREADS 8

/*
 * Compression work for one round: the new messages among msgs[0..n) (id 0),
 * each deflated to out + off[i] (room off[i + 1] - off[i]), its size in
 * zlen[i]. Workers take messages through an atomic counter.
 */
struct zjob {
	const struct store_message *msgs;
	const int64_t *ids;
	size_t n;
	const size_t *off;
	size_t *zlen;
	unsigned char *out;
	atomic_size_t next;
	atomic_int failed;
};

/* What compress2(level 6) produces (RFC 1950 zlib data), through ZS (reset each time). */
static int deflate_one(z_stream *zs, const struct store_message *m, unsigned char *out,
                       size_t room, size_t *zlen_out)
{
	if (deflateReset(zs) != Z_OK)
		return -1;
	/* raw_len <= STORE_MAX_RAW, so both sizes fit a uInt. */
	zs->next_in = (Bytef *)(m->raw ? m->raw : "");
	zs->avail_in = (uInt)m->raw_len;
	zs->next_out = out;
	zs->avail_out = (uInt)room;
	if (deflate(zs, Z_FINISH) != Z_STREAM_END)
		return -1;
	*zlen_out = (size_t)zs->total_out;
	return 0;
}

/* Deflates job messages until none is left; ZS is an initialised deflate state. */
static void zjob_work(struct zjob *job, z_stream *zs)
{
	size_t i;

	while ((i = atomic_fetch_add(&job->next, 1)) < job->n) {
		if (job->ids[i] != 0)
			continue;
		if (deflate_one(zs, &job->msgs[i], job->out + job->off[i], job->off[i + 1] - job->off[i],
		                &job->zlen[i]) < 0)
			atomic_store(&job->failed, 1);
	}
}

static void *zjob_thread(void *arg)
{
	z_stream zs;

	memset(&zs, 0, sizeof zs);
	if (deflateInit(&zs, 6) != Z_OK) {
		/* The other workers (the caller's thread at least) do its share. */
		return NULL;
	}
	zjob_work(arg, &zs);
	deflateEnd(&zs);
	return NULL;
}

/*
 * Runs JOB on the calling thread (with the handle's deflate state) and,
 * when there is enough to compress, on up to MAX_THREADS - 1 more threads
 * (deflate is most of the cost of storing mail). -1 when zlib failed.
 */
static int zjob_run(struct store *st, struct zjob *job, size_t raw_bytes)
{
	pthread_t tids[MAX_THREADS];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nt = 0, want = cpus > 1 ? (size_t)cpus : 1;

	if (!st->zs_ready) {
		memset(&st->zs, 0, sizeof st->zs);
		if (deflateInit(&st->zs, 6) != Z_OK)
			return -1;
		st->zs_ready = 1;
	}
	if (want > MAX_THREADS)
		want = MAX_THREADS;
	if (raw_bytes < PARALLEL_MIN)
		want = 1;
	while (nt + 1 < want && pthread_create(&tids[nt], NULL, zjob_thread, job) == 0)
		nt++;
	zjob_work(job, &st->zs);
	for (size_t t = 0; t < nt; t++)
		pthread_join(tids[t], NULL);
	return atomic_load(&job->failed) ? -1 : 0;
}

static int step_done(struct store *st, sqlite3_stmt *s, char *err, size_t errlen, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, what);
	return 0;
}

/* Inserts message M (compressed to Z, ZLEN bytes); *id_out its row id, 0 if a duplicate. */
static int insert_msg(struct store *st, const struct store_message *m, int64_t now,
                      const unsigned char *z, size_t zlen, int64_t *id_out,
                      char *err, size_t errlen, const char *what)
{
	sqlite3_stmt *s;
	int64_t id;

	*id_out = 0;
	if (!(s = stmt(st, S_INSERT_MSG, err, errlen)))
		return -1;
	sqlite3_bind_text(s, 1, m->message_id, -1, SQLITE_STATIC);
	bind_opt_int(s, 2, m->has_date, m->date);
	sqlite3_bind_int64(s, 3, m->has_received ? m->received : now);
	bind_opt_text(s, 4, m->subject);
	bind_opt_text(s, 5, m->from);
	bind_opt_text(s, 6, m->in_reply_to);
	sqlite3_bind_int64(s, 7, (sqlite3_int64)m->raw_len);
	if (step_done(st, s, err, errlen, what) < 0)
		return -1;
	/* ON CONFLICT DO NOTHING: the same id earlier in this very batch. */
	if (sqlite3_changes(st->db) == 0)
		return 0;
	id = sqlite3_last_insert_rowid(st->db);
	if (!(s = stmt(st, S_INSERT_RAW, err, errlen)))
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_blob64(s, 2, z, zlen, SQLITE_STATIC);
	if (step_done(st, s, err, errlen, what) < 0)
		return -1;
	for (size_t i = 0; i < m->n_references; i++) {
		if (!(s = stmt(st, S_INSERT_REF, err, errlen)))
			return -1;
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)i);
		sqlite3_bind_text(s, 3, m->references[i], -1, SQLITE_STATIC);
		if (step_done(st, s, err, errlen, what) < 0)
			return -1;
	}
	*id_out = id;
	return 0;
}

/*
 * One round of store_put_messages over MSGS[0..N): finds which messages are
 * already stored, deflates the others (in parallel), then writes them and
 * every list membership. Runs inside the caller's transaction or savepoint.
 */
static int put_round(struct store *st, const char *list, const struct store_message *msgs,
                     size_t n, int64_t now, size_t *n_new, char *err, size_t errlen)
{
	int64_t *ids = calloc(n, sizeof *ids);
	size_t *off = calloc(n + 1, sizeof *off), *zlen = calloc(n, sizeof *zlen);
	size_t raw_bytes = 0;
	struct zjob job;
	char what[300];
	int rc = -1;

	memset(&job, 0, sizeof job);
	if (!ids || !off || !zlen) {
		util_fail(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* Compressed only when new: re-fetched pages repeat messages. */
		if (find(st, msgs[i].message_id, &ids[i], err, errlen) < 0)
			goto out;
		off[i + 1] = off[i] + (ids[i] ? 0 : compressBound((uLong)msgs[i].raw_len));
		raw_bytes += ids[i] ? 0 : msgs[i].raw_len;
	}
	job.msgs = msgs;
	job.ids = ids;
	job.n = n;
	job.off = off;
	job.zlen = zlen;
	if (off[n] && !(job.out = malloc(off[n]))) {
		util_fail(err, errlen, "out of memory compressing %zu messages", n);
		goto out;
	}
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	if (off[n] && zjob_run(st, &job, raw_bytes) < 0) {
		util_fail(err, errlen, "zlib cannot compress a message");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct store_message *m = &msgs[i];
		int64_t id = ids[i];
		sqlite3_stmt *s;

		snprintf(what, sizeof what, "storing <%.250s>", m->message_id);
		if (id == 0) {
			if (insert_msg(st, m, now, job.out + off[i], zlen[i], &id, err, errlen, what) < 0)
				goto out;
			if (id == 0 && find(st, m->message_id, &id, err, errlen) < 0)
				goto out;
		}
		if (!(s = stmt(st, S_INSERT_LIST, err, errlen)))
			goto out;
		sqlite3_bind_text(s, 1, list, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, id);
		if (step_done(st, s, err, errlen, what) < 0)
			goto out;
		*n_new += sqlite3_changes(st->db) > 0;
	}
	rc = 0;
out:
	free(job.out);
	free(ids);
	free(off);
	free(zlen);
	return rc;
}

int store_put_messages(struct store *st, const char *list,
                       const struct store_message *msgs, size_t n,
                       size_t *n_new_out, char *err, size_t errlen)
{
	int own = !store_in_transaction(st);
	int64_t now = (int64_t)time(NULL);
	size_t n_new = 0, i, j, bytes;

	if (n_new_out)
		*n_new_out = 0;
	for (i = 0; i < n; i++)
		if (msgs[i].raw_len > STORE_MAX_RAW)
			return util_fail(err, errlen, "storing <%.250s>: %zu bytes is over the %zu-byte limit",
			                 msgs[i].message_id, msgs[i].raw_len, (size_t)STORE_MAX_RAW);
	if (run(st, own ? S_BEGIN : S_SAVEPOINT, err, errlen, "beginning to store messages") < 0)
		return -1;
	for (i = 0; i < n; i = j) {
		for (j = i, bytes = 0; j < n && (j == i || bytes + msgs[j].raw_len <= PUT_WINDOW); j++)
			bytes += msgs[j].raw_len;
		if (put_round(st, list, msgs + i, j - i, now, &n_new, err, errlen) < 0)
			goto fail;
	}
	if (own) {
		if (store_commit(st, err, errlen) < 0)
			return -1;
	} else if (run(st, S_RELEASE, err, errlen, "storing messages") < 0) {
		goto fail;
	}
	if (n_new_out)
		*n_new_out = n_new;
	return 0;
fail:
	/* SQLite may have rolled the whole transaction back already (SQLITE_FULL, IOERR). */
	if (!store_in_transaction(st)) {
		if (!own) {
			size_t len = err ? strlen(err) : 0;

			if (err && len < errlen)
				snprintf(err + len, errlen - len, " (the transaction was rolled back)");
		}
	} else if (own) {
		run(st, S_ROLLBACK, NULL, 0, "");
	} else {
		run(st, S_ROLLBACK_TO, NULL, 0, "");
		run(st, S_RELEASE, NULL, 0, "");
	}
	return -1;
}

int store_has(struct store *st, const char *message_id, int *has_out, char *err, size_t errlen)
{
	int64_t id;

	*has_out = 0;
	if (find(st, message_id, &id, err, errlen) < 0)
		return -1;
	*has_out = id != 0;
	return 0;
}

int store_raw(struct store *st, const char *message_id,
              char **raw_out, size_t *len_out, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, S_RAW, err, errlen);
	sqlite3_int64 stored;
	const void *z;
	uLongf got;
	size_t zlen;
	char *buf;
	int rc;

	*raw_out = NULL;
	*len_out = 0;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(s);
		return db_fail(st->db, err, errlen, "reading a message");
	}
	stored = sqlite3_column_int64(s, 0);
	z = sqlite3_column_blob(s, 1);
	zlen = (size_t)sqlite3_column_bytes(s, 1);
	if (stored < 0 || (sqlite3_uint64)stored > STORE_MAX_RAW) {
		sqlite3_reset(s);
		return util_fail(err, errlen, "<%.250s> claims %lld bytes, over the %zu-byte limit; "
		                 "the store is corrupt", message_id, (long long)stored, (size_t)STORE_MAX_RAW);
	}
	buf = malloc((size_t)stored + 1);
	if (!buf) {
		sqlite3_reset(s);
		return util_fail(err, errlen, "out of memory reading <%.250s>", message_id);
	}
	got = (uLongf)stored;
	rc = uncompress((Bytef *)buf, &got, z ? z : (const void *)"", (uLong)zlen);
	sqlite3_reset(s);
	if (rc != Z_OK || got != (uLongf)stored) {
		free(buf);
		return util_fail(err, errlen, "<%.250s> is corrupt in the store (zlib: %s)",
		                 message_id, rc == Z_OK ? "wrong length" : zError(rc));
	}
	buf[stored] = '\0';
	*raw_out = buf;
	*len_out = (size_t)stored;
	return 0;
}

/* Arena-allocates N bytes (aligned for any type) for ROWS, or NULL. */
static void *arena_alloc(struct store_rows *rows, size_t n)
{
	struct store_arena *a = rows->arena;
	size_t al = alignof(max_align_t);

	n = (n + al - 1) / al * al;
	if (!a || a->cap - a->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		a = malloc(sizeof *a + cap);
		if (!a)
			return NULL;
		a->next = rows->arena;
		a->used = 0;
		a->cap = cap;
		rows->arena = a;
	}
	a->used += n;
	return a->data + a->used - n;
}

/* Copies column I (NULL stays NULL) into the arena; -1 when out of memory. */
static int arena_text(struct store_rows *rows, sqlite3_stmt *s, int i, const char **out)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	size_t len = (size_t)sqlite3_column_bytes(s, i);
	char *p;

	*out = NULL;
	if (!t)
		return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : -1;
	if (!(p = arena_alloc(rows, len + 1)))
		return -1;
	memcpy(p, t, len + 1);
	*out = p;
	return 0;
}

void store_rows_free(struct store_rows *rows)
{
	struct store_arena *a, *next;

	if (!rows)
		return;
	for (a = rows->arena; a; a = next) {
		next = a->next;
		free(a);
	}
	free(rows->v);
	free(rows);
}

/* Loads the References of row ID into M. */
static int load_refs(struct store *st, struct store_rows *rows, int64_t id,
                     struct store_message *m, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, S_REFS_OF, err, errlen);
	const char **v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			/* Grows in the arena; the abandoned array is freed with it. */
			const char **nv = arena_alloc(rows, (cap ? cap * 2 : 8) * sizeof *nv);

			if (!nv)
				goto oom;
			if (n)
				memcpy(nv, v, n * sizeof *v);
			v = nv;
			cap = cap ? cap * 2 : 8;
		}
		if (arena_text(rows, s, 0, &v[n]) < 0 || !v[n])
			goto oom;
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "reading references");
	m->references = v;
	m->n_references = n;
	return 0;
oom:
	sqlite3_reset(s);
	return util_fail(err, errlen, "out of memory");
}

/* Appends every row S yields (MSG_COLS) to ROWS, then resets S. */
static int collect(struct store *st, sqlite3_stmt *s, struct store_rows *rows,
                   char *err, size_t errlen)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_message *m;
		int64_t id = sqlite3_column_int64(s, 0);

		if (rows->n == rows->cap) {
			size_t cap = rows->cap ? rows->cap * 2 : 64;
			struct store_message *nv = realloc(rows->v, cap * sizeof *nv);

			if (!nv)
				goto oom;
			rows->v = nv;
			rows->cap = cap;
		}
		m = &rows->v[rows->n];
		memset(m, 0, sizeof *m);
		if (arena_text(rows, s, 1, &m->message_id) < 0 || !m->message_id ||
		    arena_text(rows, s, 4, &m->subject) < 0 ||
		    arena_text(rows, s, 5, &m->from) < 0 ||
		    arena_text(rows, s, 6, &m->in_reply_to) < 0)
			goto oom;
		m->has_date = sqlite3_column_type(s, 2) != SQLITE_NULL;
		m->date = sqlite3_column_int64(s, 2);
		m->has_received = sqlite3_column_type(s, 3) != SQLITE_NULL;
		m->received = sqlite3_column_int64(s, 3);
		m->raw_len = (size_t)sqlite3_column_int64(s, 7);
		rows->n++;
		/* A second statement may step while this one is mid-way. */
		if (load_refs(st, rows, id, m, err, errlen) < 0) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "reading messages");
	return 0;
oom:
	sqlite3_reset(s);
	return util_fail(err, errlen, "out of memory");
}

static struct store_rows *new_rows(char *err, size_t errlen)
{
	struct store_rows *rows = calloc(1, sizeof *rows);

	if (!rows)
		util_fail(err, errlen, "out of memory");
	return rows;
}

int store_query(struct store *st, const struct store_query *q,
                struct store_rows **rows_out, char *err, size_t errlen)
{
	struct store_rows *rows;
	sqlite3_stmt *s;

	*rows_out = NULL;
	if (!(rows = new_rows(err, errlen)))
		return -1;
	if (!(s = stmt(st, q->by == STORE_BY_RECEIVED ? S_BY_RECEIVED : S_BY_DATE, err, errlen)))
		goto fail;
	sqlite3_bind_text(s, 1, q->list, -1, SQLITE_STATIC);
	bind_opt_int(s, 2, q->has_since, q->since);
	bind_opt_int(s, 3, q->has_until, q->until);
	if (collect(st, s, rows, err, errlen) < 0)
		goto fail;
	*rows_out = rows;
	return 0;
fail:
	store_rows_free(rows);
	return -1;
}

int store_lookup(struct store *st, const char *const *ids, size_t n,
                 struct store_rows **rows_out, char *err, size_t errlen)
{
	struct store_rows *rows;

	*rows_out = NULL;
	if (!(rows = new_rows(err, errlen)))
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = stmt(st, S_LOOKUP, err, errlen);

		if (!s)
			goto fail;
		sqlite3_bind_text(s, 1, ids[i], -1, SQLITE_STATIC);
		if (collect(st, s, rows, err, errlen) < 0)
			goto fail;
	}
	*rows_out = rows;
	return 0;
fail:
	store_rows_free(rows);
	return -1;
}

int store_referencing(struct store *st, const char *message_id,
                      struct store_rows **rows_out, char *err, size_t errlen)
{
	struct store_rows *rows;
	sqlite3_stmt *s;

	*rows_out = NULL;
	if (!(rows = new_rows(err, errlen)))
		return -1;
	if (!(s = stmt(st, S_REFERENCING, err, errlen)))
		goto fail;
	sqlite3_bind_text(s, 1, message_id, -1, SQLITE_STATIC);
	if (collect(st, s, rows, err, errlen) < 0)
		goto fail;
	*rows_out = rows;
	return 0;
fail:
	store_rows_free(rows);
	return -1;
}

int store_count(struct store *st, const char *list, int64_t *n_out, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, list ? S_COUNT_LIST : S_COUNT_ALL, err, errlen);
	int rc;

	*n_out = 0;
	if (!s)
		return -1;
	if (list)
		sqlite3_bind_text(s, 1, list, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n_out = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		return db_fail(st->db, err, errlen, "counting messages");
	return 0;
}

/* A malloc'd NUL-terminated copy of column I of S (bytes), or NULL. */
static char *column_dup(sqlite3_stmt *s, int i, size_t *len_out)
{
	const void *p = sqlite3_column_blob(s, i);
	size_t len = (size_t)sqlite3_column_bytes(s, i);
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	if (len)
		memcpy(out, p, len);
	out[len] = '\0';
	if (len_out)
		*len_out = len;
	return out;
}

int store_state_get(struct store *st, const char *list, const char *key,
                    char **value_out, size_t *len_out, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, S_STATE_GET, err, errlen);
	int rc;

	*value_out = NULL;
	if (len_out)
		*len_out = 0;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && !(*value_out = column_dup(s, 0, len_out))) {
		sqlite3_reset(s);
		return util_fail(err, errlen, "out of memory");
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "reading fetch state");
	return 0;
}

int store_state_set(struct store *st, const char *list, const char *key,
                    const char *value, size_t len, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, value ? S_STATE_SET : S_STATE_DEL, err, errlen);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, list, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, key, -1, SQLITE_STATIC);
	if (value) {
		sqlite3_bind_text64(s, 3, value, len, SQLITE_STATIC, SQLITE_UTF8);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "saving fetch state");
	return 0;
}

void store_cache_clear(struct store_cache_entry *entry)
{
	if (!entry)
		return;
	free(entry->value);
	free(entry->meta);
	memset(entry, 0, sizeof *entry);
}

int store_cache_get(struct store *st, const char *key, struct store_cache_entry *entry_out,
                    int *found_out, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, S_CACHE_GET, err, errlen);
	int rc;

	memset(entry_out, 0, sizeof *entry_out);
	*found_out = 0;
	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!(entry_out->value = column_dup(s, 0, &entry_out->len)) ||
		    (sqlite3_column_type(s, 1) != SQLITE_NULL &&
		     !(entry_out->meta = column_dup(s, 1, NULL)))) {
			sqlite3_reset(s);
			store_cache_clear(entry_out);
			return util_fail(err, errlen, "out of memory");
		}
		entry_out->created = sqlite3_column_int64(s, 2);
		entry_out->updated = sqlite3_column_int64(s, 3);
		*found_out = 1;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "reading the cache");
	return 0;
}

int store_cache_put(struct store *st, const char *key, const char *value, size_t len,
                    const char *meta, char *err, size_t errlen)
{
	sqlite3_stmt *s = stmt(st, value ? S_CACHE_PUT : S_CACHE_DEL, err, errlen);
	int rc;

	if (!s)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	if (value) {
		sqlite3_bind_blob64(s, 2, len ? value : "", len, SQLITE_STATIC);
		bind_opt_text(s, 3, meta);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)time(NULL));
	}
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(st->db, err, errlen, "writing the cache");
	return 0;
}

int store_check(struct store *st, int *ok_out, char *report, size_t reportlen,
                char *err, size_t errlen)
{
	static const char *const checks[] = {"PRAGMA integrity_check(20)", "PRAGMA foreign_key_check"};
	size_t used = 0;

	*ok_out = 1;
	if (report && reportlen)
		report[0] = '\0';
	for (size_t c = 0; c < sizeof checks / sizeof checks[0]; c++) {
		sqlite3_stmt *s;
		int rc;

		if (sqlite3_prepare_v2(st->db, checks[c], -1, &s, NULL) != SQLITE_OK)
			return db_fail(st->db, err, errlen, "checking the store");
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(s, 0);

			if (c == 0 && t && strcmp(t, "ok") == 0)
				continue;
			*ok_out = 0;
			if (report && used + 1 < reportlen) {
				int w;

				if (c == 0)
					w = snprintf(report + used, reportlen - used, "%s%s", used ? "; " : "", t ? t : "?");
				else
					w = snprintf(report + used, reportlen - used, "%sforeign key broken in %s row %lld",
					             used ? "; " : "", t ? t : "?", (long long)sqlite3_column_int64(s, 1));
				used += w > 0 ? (size_t)w : 0;
				if (used >= reportlen)
					used = reportlen - 1;
			}
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE)
			return db_fail(st->db, err, errlen, "checking the store");
	}
	return 0;
}

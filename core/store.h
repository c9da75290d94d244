/*
 * The message store: one SQLite file (WAL) holding messages keyed by
 * Message-ID with their raw bytes zlib-compressed, which lists each belongs
 * to, per-list fetch state and a small key/value cache (LLM summaries).
 * It does not fetch, parse or thread mail: callers hand it parsed fields.
 * Engine only: no Lua here; errors come back as -1 and a reason in a caller
 * buffer (sqlite's own message, with what was being done).
 *
 * A store handle is for one thread at a time. Every call that is not inside
 * a transaction opened with store_begin is atomic on its own; a crash or a
 * SIGKILL at any point leaves the file as of the last commit.
 */
#ifndef LISTDIGEST_STORE_H
#define LISTDIGEST_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The schema version this code writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1

/*
 * Largest raw message stored or inflated, in bytes. store_put_messages
 * refuses a bigger message; store_raw refuses a stored length over it
 * (a corrupt or hostile file) rather than allocating that much.
 */
#ifndef STORE_MAX_RAW
#define STORE_MAX_RAW ((size_t)256 << 20)
#endif

/* Default wait for another process's lock before failing ("database is locked"). */
#define STORE_BUSY_TIMEOUT_MS 5000

struct store_options {
	int busy_timeout_ms; /* 0 = STORE_BUSY_TIMEOUT_MS; < 0 = fail at once */
	int64_t max_size;    /* bytes the file may grow to (0 = no limit); past it
	                        writes fail as on a full disk */
};

/*
 * One message. As input to store_put_messages every pointer is the caller's
 * and only read during the call. As a query result (struct store_rows) every
 * pointer points into the rows and is valid until store_rows_free; raw is
 * then NULL and raw_len is the size of the stored raw message.
 */
struct store_message {
	const char *message_id;              /* required, without <> */
	const char *raw;                     /* the RFC 5322 bytes (input only) */
	size_t raw_len;
	int64_t date, received;              /* Unix seconds, when has_* is set */
	int has_date, has_received;          /* input: has_received = 0 means now */
	const char *subject, *from;          /* NULL = absent */
	const char *in_reply_to;             /* NULL = absent */
	const char *const *references;       /* n_references ids, oldest first */
	size_t n_references;
};

/* Query results: n messages in v. Free with store_rows_free. */
struct store_rows {
	size_t n;
	struct store_message *v;
	/* private */
	size_t cap;
	struct store_arena *arena;
};

enum store_by { STORE_BY_DATE, STORE_BY_RECEIVED };

/* A window over a list's messages: since <= field < until; has_* 0 = unbounded. */
struct store_query {
	const char *list;
	enum store_by by;
	int64_t since, until;
	int has_since, has_until;
};

struct store;

/*
 * Opens (creating if missing) the store at PATH (":memory:" works); the
 * folder must exist. Sets WAL, the busy timeout and foreign keys, then
 * creates or migrates the schema to STORE_SCHEMA_VERSION in one transaction
 * per step (safe against a concurrent opener). OPTS may be NULL; max_size
 * sets PRAGMA max_page_count for this handle. Fails with
 * e.g. "file is not a database", "schema version 7 is newer than this
 * listdigest understands (1)", "not a listdigest store (it has other
 * tables)" (no path prefix). On failure *st_out = NULL.
 */
int store_open(const char *path, const struct store_options *opts,
               struct store **st_out, char *err, size_t errlen);

/* Rolls back an open transaction, checkpoints and closes; NULL does nothing. */
void store_close(struct store *st);

/* The path given to store_open; owned by st. */
const char *store_path(const struct store *st);

/* 1 while a transaction is open (store_begin, not yet committed/rolled back). */
int store_in_transaction(const struct store *st);

/*
 * Explicit transaction (BEGIN IMMEDIATE: the write lock is taken now, so a
 * later write cannot fail on a lock). store_begin inside a transaction and
 * commit/rollback outside one fail with "no transaction is open" etc. A
 * failed commit rolls the transaction back, so none is open afterwards.
 */
int store_begin(struct store *st, char *err, size_t errlen);
int store_commit(struct store *st, char *err, size_t errlen);
int store_rollback(struct store *st, char *err, size_t errlen);

/*
 * Stores N messages and records each as belonging to LIST. A Message-ID
 * already stored keeps its first copy (raw and fields untouched) and only
 * gains LIST. Raw bytes are stored as compress2(level 6) would write them,
 * with their length; above 1 MiB of new mail per call the deflating runs on
 * up to 8 threads, all joined before the call returns (that is most of the
 * cost: ~13,000 messages of 11 KB take ~2 s on two cores).
 * All or nothing: inside an open transaction it works in a savepoint (on
 * failure the caller's transaction is as before the call, unless SQLite
 * rolled the whole transaction back, which ERR then says); otherwise in a
 * transaction of its own. *n_new_out (may be NULL): how many messages
 * were new to LIST (new to the store, or stored before under another list).
 */
int store_put_messages(struct store *st, const char *list,
                       const struct store_message *msgs, size_t n,
                       size_t *n_new_out, char *err, size_t errlen);

/* *has_out = 1 if MESSAGE_ID is stored (in any list). */
int store_has(struct store *st, const char *message_id, int *has_out,
              char *err, size_t errlen);

/*
 * The raw bytes of MESSAGE_ID, inflated into a malloc'd buffer that the
 * caller frees (*raw_out, *len_out; a NUL follows the bytes, not counted).
 * *raw_out = NULL when the message is not stored (that is not a failure).
 */
int store_raw(struct store *st, const char *message_id,
              char **raw_out, size_t *len_out, char *err, size_t errlen);

/*
 * Messages of Q->list in the window, ordered by the window's field then
 * Message-ID. A message whose field is unknown (NULL) is only returned when
 * the window is unbounded on both sides (and then sorts first).
 */
int store_query(struct store *st, const struct store_query *q,
                struct store_rows **rows_out, char *err, size_t errlen);

/* The stored messages among IDS[0..N), in the order given (missing skipped). */
int store_lookup(struct store *st, const char *const *ids, size_t n,
                 struct store_rows **rows_out, char *err, size_t errlen);

/*
 * Stored messages whose In-Reply-To or References name MESSAGE_ID (through
 * indexes, not a scan), ordered by date then Message-ID.
 */
int store_referencing(struct store *st, const char *message_id,
                      struct store_rows **rows_out, char *err, size_t errlen);

/* Frees query results; NULL does nothing. */
void store_rows_free(struct store_rows *rows);

/* *n_out = messages of LIST, or of the whole store when LIST is NULL. */
int store_count(struct store *st, const char *list, int64_t *n_out,
                char *err, size_t errlen);

/*
 * Fetch state: string values by (list, key). store_state_get gives a
 * malloc'd copy the caller frees (NUL-terminated; *len_out may be NULL),
 * or *value_out = NULL when unset. store_state_set with VALUE NULL unsets.
 */
int store_state_get(struct store *st, const char *list, const char *key,
                    char **value_out, size_t *len_out, char *err, size_t errlen);
int store_state_set(struct store *st, const char *list, const char *key,
                    const char *value, size_t len, char *err, size_t errlen);

/*
 * Key/value cache. An entry: value bytes, optional META text, the time it
 * was first put and last replaced (Unix seconds). store_cache_get fills
 * *entry_out with malloc'd copies the caller frees with store_cache_clear
 * (value and meta NUL-terminated; meta NULL when none); found_out says
 * whether the key was there. store_cache_put with VALUE NULL deletes KEY.
 */
struct store_cache_entry {
	char *value;
	size_t len;
	char *meta;
	int64_t created, updated;
};

int store_cache_get(struct store *st, const char *key, struct store_cache_entry *entry_out,
                    int *found_out, char *err, size_t errlen);
int store_cache_put(struct store *st, const char *key, const char *value, size_t len,
                    const char *meta, char *err, size_t errlen);
void store_cache_clear(struct store_cache_entry *entry);

/*
 * Runs PRAGMA integrity_check (and foreign_key_check). *ok_out = 1 when the
 * file is sound; otherwise REPORT (REPORTLEN bytes) gets the first problems.
 */
int store_check(struct store *st, int *ok_out, char *report, size_t reportlen,
                char *err, size_t errlen);

#endif

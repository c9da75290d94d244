/*
 * Threading engine: JWZ / RFC 5256 §2.2 REFERENCES threading over Message-ID,
 * In-Reply-To and References, with ghost containers for missing ancestors.
 * It does not merge threads by subject (RFC 5256 step 5 is skipped on
 * purpose: list traffic reuses subjects), does not parse headers (the caller
 * passes ids) and does not know about patch series. Engine only: no Lua.
 */
#ifndef LISTDIGEST_THREAD_H
#define LISTDIGEST_THREAD_H

#include <stddef.h>
#include <stdint.h>

#define THREAD_NONE ((size_t)-1)

/* A Message-ID without its angle brackets; need not be NUL-terminated. */
struct thread_id {
	const char *s;
	size_t len;
};

/*
 * One message. All memory is the caller's and must outlive the forest
 * (nodes point at these ids). An empty id (len 0) is a message nobody can
 * reply to; it is never a duplicate.
 */
struct thread_item {
	struct thread_id id;
	const struct thread_id *references;  /* References, oldest first */
	size_t n_references;
	const struct thread_id *in_reply_to; /* the ids found in In-Reply-To */
	size_t n_in_reply_to;
	int in_reply_to_noisy;  /* 1: In-Reply-To held text besides its ids */
	int has_date;
	int64_t date;           /* UTC, seconds since the epoch */
};

/*
 * A node is a message (item != THREAD_NONE) or a ghost: a message that was
 * referenced but is not in the input, kept so that the real root of a
 * thread is known even when it is missing. Nodes are stored in preorder,
 * one thread after another, so a subtree is a contiguous run.
 */
struct thread_node {
	struct thread_id id;   /* points into the items */
	size_t item;           /* index into items, or THREAD_NONE for a ghost */
	size_t parent, first_child, next_sibling; /* node indices or THREAD_NONE */
	size_t thread;         /* 0-based conversation number, see below */
	int has_date;
	int64_t date;          /* the message's date; a ghost's is its subtree's earliest */
};

/*
 * Roots are linked by next_sibling from first_root. A conversation
 * ("thread") is a connected component over parent links and every id in
 * References: it can have several roots, e.g. replies to a ghost that is
 * named in another message's References but not linked to it. Roots of
 * one conversation are adjacent; conversations are ordered by their
 * earliest message, roots and siblings by date (UTC), ties by input order,
 * undated messages last.
 */
struct thread_forest {
	struct thread_node *nodes;
	size_t n_nodes;
	size_t first_root;     /* THREAD_NONE when there are no items */
	size_t n_roots;
	size_t n_threads;
	size_t *dups;          /* input indices dropped as duplicate ids, ascending */
	size_t n_dups;
};

/*
 * Threads N items. Parent of a message: its In-Reply-To when that is exactly
 * one id and nothing else; else the last id of References; else the first
 * id of In-Reply-To (its own id is skipped everywhere). A ghost's parent is
 * the id before it in the first References list naming it (RFC 5256 §2.2:
 * links are never overridden and never form a loop). A cycle among
 * messages is broken at its oldest message, which becomes a root. Of
 * several messages with one id, the first is kept and the others listed in
 * dups. Ghosts with no message below them are dropped.
 * On success *forest_out is malloc'd and freed by thread_free; on failure
 * returns -1 with the reason in ERR (only out of memory or overflow).
 */
int thread_build(const struct thread_item *items, size_t n,
                 struct thread_forest **forest_out, char *err, size_t errlen);

/* thread_free(NULL) does nothing. */
void thread_free(struct thread_forest *forest);

#endif

/*
 * JWZ threading (RFC 5256 §2.2 REFERENCES, without subject merging) over
 * caller-supplied ids: one open-addressing hash table of containers, flat
 * arrays, no allocation per message, no recursion (threads can be deep).
 * Not a header parser and not a series detector. Contract in thread.h.
 */
#include "thread.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cont {
	struct thread_id id;
	size_t item;    /* THREAD_NONE for a ghost */
	size_t parent;
	size_t seq;     /* when the parent link was made (later links lose cycles) */
	int64_t kdate;  /* sort key: earliest (date, item) in the subtree */
	size_t kitem;
};

/* A hash slot keeps part of the hash so that probing rarely touches a container. */
struct slot {
	uint32_t k;     /* container index + 1; 0 = empty */
	uint32_t tag;   /* high half of the hash */
};

struct builder {
	struct cont *c;
	size_t nc, cap;
	struct slot *tab;
	size_t mask;
};

#define UNDATED INT64_MAX

/*
 * A multiply-xorshift hash over 8-byte words (in the spirit of fxhash):
 * Message-IDs are 30-60 bytes and a byte-wise FNV was the cost centre.
 * Plain 64-bit arithmetic, so it builds on 32-bit targets too. Not keyed:
 * a collision flood from crafted ids only costs time.
 */
static uint64_t mix(uint64_t h)
{
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static uint64_t hash_id(struct thread_id id)
{
	const unsigned char *p = (const unsigned char *)id.s;
	uint64_t h = 0xcbf29ce484222325ULL ^ id.len, w;
	size_t n = id.len;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = mix(h ^ w);
	}
	w = 0;
	memcpy(&w, p, n);
	h = mix(h ^ w);
	return h ^ (h >> 32);
}

static int id_eq(struct thread_id a, struct thread_id b)
{
	return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

static size_t new_cont(struct builder *b, struct thread_id id)
{
	struct cont *k = &b->c[b->nc];

	k->id = id;
	k->item = THREAD_NONE;
	k->parent = THREAD_NONE;
	k->seq = 0;
	k->kdate = UNDATED;
	k->kitem = THREAD_NONE;
	return b->nc++;
}

/* The container for ID, created as a ghost if unknown. */
static size_t lookup(struct builder *b, struct thread_id id)
{
	uint64_t h = hash_id(id);
	uint32_t tag = (uint32_t)(h >> 32);
	size_t i = (size_t)h & b->mask, k;

	for (; b->tab[i].k; i = (i + 1) & b->mask) {
		k = b->tab[i].k - 1;
		if (b->tab[i].tag == tag && id_eq(b->c[k].id, id))
			return k;
	}
	k = new_cont(b, id);
	b->tab[i].k = (uint32_t)k + 1;
	b->tab[i].tag = tag;
	return k;
}

/* Our parent rule (see thread.h); returns NULL when the message has none. */
static const struct thread_id *parent_id(const struct thread_item *it)
{
	size_t j;

	if (it->n_in_reply_to == 1 && !it->in_reply_to_noisy && it->in_reply_to[0].len &&
	    !id_eq(it->in_reply_to[0], it->id))
		return &it->in_reply_to[0];
	for (j = it->n_references; j-- > 0;)
		if (it->references[j].len && !id_eq(it->references[j], it->id))
			return &it->references[j];
	for (j = 0; j < it->n_in_reply_to; j++)
		if (it->in_reply_to[j].len && !id_eq(it->in_reply_to[j], it->id))
			return &it->in_reply_to[j];
	return NULL;
}

static int key_less(const struct cont *a, const struct cont *b)
{
	if (a->kdate != b->kdate)
		return a->kdate < b->kdate;
	return a->kitem < b->kitem;
}

/*
 * Entries sorted by a qsort without context: the key travels with the index.
 * (date, item) orders siblings; roots first by their conversation's
 * (date, item), then by their own (date2, item2).
 */
struct sort_ent {
	int64_t date;
	size_t item;
	size_t k;
	int64_t date2;
	size_t item2;
};

static int ent_cmp(const void *pa, const void *pb)
{
	const struct sort_ent *a = pa, *b = pb;

	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	if (a->item != b->item)
		return a->item < b->item ? -1 : 1;
	if (a->date2 != b->date2)
		return a->date2 < b->date2 ? -1 : 1;
	if (a->item2 != b->item2)
		return a->item2 < b->item2 ? -1 : 1;
	return 0;
}

static size_t uf_find(size_t *uf, size_t x)
{
	while (uf[x] != x) {
		uf[x] = uf[uf[x]];
		x = uf[x];
	}
	return x;
}

static void uf_union(size_t *uf, size_t a, size_t b)
{
	a = uf_find(uf, a);
	b = uf_find(uf, b);
	if (a != b)
		uf[a < b ? b : a] = a < b ? a : b;
}

/* Links and loop breaking (JWZ steps 1-2); returns nothing, cannot fail. */
static void link_all(struct builder *b, const struct thread_item *items, size_t n,
                     const size_t *msgcont, const unsigned char *dup, size_t *refcont)
{
	size_t i, j, seq = 0, r = 0;

	for (i = 0; i < n; i++) {
		const struct thread_item *it = &items[i];
		const struct thread_id *pid;
		size_t prev = THREAD_NONE, cur;

		if (dup[i]) {
			r += it->n_references;
			continue;
		}
		/*
		 * RFC 5256 §2.2 (1)(A): link References consecutively, never
		 * overriding a link. Only ghosts take parents this way: a present
		 * message's parent comes from its own headers (1)(C).
		 */
		for (j = 0; j < it->n_references; j++, r++) {
			refcont[r] = THREAD_NONE;
			if (!it->references[j].len)
				continue;
			if (id_eq(it->references[j], it->id)) {
				prev = THREAD_NONE;
				continue;
			}
			cur = refcont[r] = lookup(b, it->references[j]);
			if (prev != THREAD_NONE && cur != prev && b->c[cur].item == THREAD_NONE &&
			    b->c[cur].parent == THREAD_NONE) {
				b->c[cur].parent = prev;
				b->c[cur].seq = ++seq;
			}
			prev = cur;
		}
		pid = parent_id(it);
		if (pid) {
			size_t k = msgcont[i];

			/* Usually the last reference: its container is known already. */
			if (pid >= it->references && pid < it->references + it->n_references)
				b->c[k].parent = refcont[r - it->n_references + (size_t)(pid - it->references)];
			else
				b->c[k].parent = lookup(b, *pid);
			b->c[k].seq = ++seq;
		}
	}
}

/* Is X a better place than Y to cut a loop? A message beats a ghost. */
static int better_cut(const struct cont *x, const struct cont *y)
{
	if ((x->item == THREAD_NONE) != (y->item == THREAD_NONE))
		return x->item != THREAD_NONE;
	if (x->item != THREAD_NONE)
		return key_less(x, y);
	return x->seq > y->seq;
}

/*
 * The parent graph has at most one parent per node, so each cycle is found
 * by one walk. A cycle is broken at its oldest message (notmuch's and our
 * expectation), or, among ghosts only, at the link made last (JWZ refuses
 * the link that would close the loop).
 */
static int break_cycles(struct builder *b, char *err, size_t errlen)
{
	unsigned char *state = calloc(b->nc ? b->nc : 1, 1);
	size_t *path = malloc((b->nc ? b->nc : 1) * sizeof *path);
	size_t v;

	if (!state || !path) {
		free(state);
		free(path);
		return util_fail(err, errlen, "out of memory");
	}
	for (v = 0; v < b->nc; v++) {
		size_t u = v, top = 0, j, best = THREAD_NONE;

		while (u != THREAD_NONE && state[u] == 0) {
			state[u] = 1;
			path[top++] = u;
			u = b->c[u].parent;
		}
		if (u != THREAD_NONE && state[u] == 1) {
			for (j = top; path[j - 1] != u; j--)
				;
			for (best = path[--j]; j < top; j++)
				if (better_cut(&b->c[path[j]], &b->c[best]))
					best = path[j];
			b->c[best].parent = THREAD_NONE;
		}
		for (j = 0; j < top; j++)
			state[path[j]] = 2;
	}
	free(state);
	free(path);
	return 0;
}

int thread_build(const struct thread_item *items, size_t n,
                 struct thread_forest **forest_out, char *err, size_t errlen)
{
	struct builder b = {0};
	struct thread_forest *f = NULL;
	size_t *msgcont = NULL, *uf = NULL, *nchild = NULL, *start = NULL, *kids = NULL;
	size_t *order = NULL, *newidx = NULL, *compkey_root = NULL, *refcont = NULL;
	struct sort_ent *ents = NULL;
	unsigned char *dup = NULL, *alive = NULL;
	size_t i, j, k, r, tabsize, n_alive = 0, n_roots = 0, n_refs = 0, head, tail, out;
	int rc = -1;

	*forest_out = NULL;
	b.cap = n;
	for (i = 0; i < n; i++) {
		if (items[i].n_references > SIZE_MAX / 4 - b.cap ||
		    items[i].n_in_reply_to > SIZE_MAX / 4 - b.cap - items[i].n_references)
			return util_fail(err, errlen, "too many references");
		b.cap += items[i].n_references + items[i].n_in_reply_to;
		n_refs += items[i].n_references;
	}
	if (b.cap >= UINT32_MAX / 2)
		return util_fail(err, errlen, "too many messages and references");
	for (tabsize = 16; tabsize < 2 * b.cap; tabsize *= 2)
		;
	b.mask = tabsize - 1;
	b.c = malloc((b.cap ? b.cap : 1) * sizeof *b.c);
	b.tab = malloc(tabsize * sizeof *b.tab);
	msgcont = malloc((n ? n : 1) * sizeof *msgcont);
	dup = calloc(n ? n : 1, 1);
	refcont = malloc((n_refs ? n_refs : 1) * sizeof *refcont);
	f = calloc(1, sizeof *f);
	if (f)
		f->dups = malloc((n ? n : 1) * sizeof *f->dups);
	if (!b.c || !b.tab || !msgcont || !dup || !refcont || !f || !f->dups) {
		util_fail(err, errlen, "out of memory");
		goto out;
	}
	memset(b.tab, 0, tabsize * sizeof *b.tab);

	/* Every present message first, so that a ghost is truly missing. */
	for (i = 0; i < n; i++) {
		if (!items[i].id.len) {
			k = new_cont(&b, items[i].id);
		} else {
			k = lookup(&b, items[i].id);
			if (b.c[k].item != THREAD_NONE) {
				dup[i] = 1;
				f->dups[f->n_dups++] = i;
				continue;
			}
		}
		b.c[k].item = i;
		b.c[k].kitem = i;
		b.c[k].kdate = items[i].has_date ? items[i].date : UNDATED;
		msgcont[i] = k;
	}
	link_all(&b, items, n, msgcont, dup, refcont);
	if (break_cycles(&b, err, errlen) < 0)
		goto out;

	/* A ghost stays only if a message hangs below it (JWZ step 4, pruning). */
	alive = calloc(b.nc ? b.nc : 1, 1);
	uf = malloc((b.nc ? b.nc : 1) * sizeof *uf);
	nchild = calloc(b.nc + 1, sizeof *nchild);
	start = malloc((b.nc + 1) * sizeof *start);
	kids = malloc((b.nc ? b.nc : 1) * sizeof *kids);
	order = malloc((b.nc ? b.nc : 1) * sizeof *order);
	newidx = malloc((b.nc ? b.nc : 1) * sizeof *newidx);
	ents = malloc((b.nc ? b.nc : 1) * sizeof *ents);
	compkey_root = malloc((b.nc ? b.nc : 1) * sizeof *compkey_root);
	if (!alive || !uf || !nchild || !start || !kids || !order || !newidx || !ents || !compkey_root) {
		util_fail(err, errlen, "out of memory");
		goto out;
	}
	for (k = 0; k < b.nc; k++)
		alive[k] = b.c[k].item != THREAD_NONE;
	for (k = 0; k < b.nc; k++) {
		size_t u;

		if (b.c[k].item == THREAD_NONE)
			continue;
		for (u = b.c[k].parent; u != THREAD_NONE && !alive[u]; u = b.c[u].parent)
			alive[u] = 1;
	}

	/* Children lists (CSR), then breadth-first order from the roots. */
	for (k = 0; k < b.nc; k++) {
		if (!alive[k])
			continue;
		n_alive++;
		if (b.c[k].parent != THREAD_NONE)
			nchild[b.c[k].parent]++;
		else
			n_roots++;
	}
	for (k = 0, j = 0; k < b.nc; k++) {
		start[k] = j;
		j += nchild[k];
		nchild[k] = 0;
	}
	start[b.nc] = j;
	tail = 0;
	for (k = 0; k < b.nc; k++) {
		if (!alive[k])
			continue;
		if (b.c[k].parent != THREAD_NONE) {
			size_t p = b.c[k].parent;

			kids[start[p] + nchild[p]++] = k;
		} else {
			order[tail++] = k;
		}
	}
	for (head = 0; head < tail; head++) {
		size_t u = order[head];

		for (j = start[u]; j < start[u] + nchild[u]; j++)
			order[tail++] = kids[j];
	}
	/* Bottom-up: a ghost sorts as the earliest message below it. */
	for (j = tail; j-- > 0;) {
		const struct cont *x = &b.c[order[j]];

		if (x->parent != THREAD_NONE && key_less(x, &b.c[x->parent])) {
			b.c[x->parent].kdate = x->kdate;
			b.c[x->parent].kitem = x->kitem;
		}
	}
	for (k = 0; k < b.nc; k++) {
		if (!alive[k] || nchild[k] < 2)
			continue;
		for (j = 0; j < nchild[k]; j++) {
			size_t c = kids[start[k] + j];

			ents[j] = (struct sort_ent){b.c[c].kdate, b.c[c].kitem, c, 0, 0};
		}
		qsort(ents, nchild[k], sizeof *ents, ent_cmp);
		for (j = 0; j < nchild[k]; j++)
			kids[start[k] + j] = ents[j].k;
	}

	/* Conversations: parent links plus every References id (thread.h). */
	for (k = 0; k < b.nc; k++)
		uf[k] = k;
	for (k = 0; k < b.nc; k++)
		if (b.c[k].parent != THREAD_NONE)
			uf_union(uf, k, b.c[k].parent);
	for (i = 0, r = 0; i < n; i++) {
		for (j = 0; j < items[i].n_references; j++, r++)
			if (!dup[i] && refcont[r] != THREAD_NONE)
				uf_union(uf, msgcont[i], refcont[r]);
	}
	/* compkey_root[rep] = the earliest root of each conversation. */
	for (k = 0; k < b.nc; k++)
		compkey_root[k] = THREAD_NONE;
	for (j = 0; j < n_roots; j++) {
		size_t root = order[j], rep = uf_find(uf, root);

		if (compkey_root[rep] == THREAD_NONE || key_less(&b.c[root], &b.c[compkey_root[rep]]))
			compkey_root[rep] = root;
	}
	/* Roots: by their conversation's earliest root, then by their own key. */
	for (j = 0; j < n_roots; j++) {
		size_t root = order[j], first = compkey_root[uf_find(uf, root)];

		ents[j] = (struct sort_ent){b.c[first].kdate, b.c[first].kitem, root,
		                            b.c[root].kdate, b.c[root].kitem};
	}
	qsort(ents, n_roots, sizeof *ents, ent_cmp);
	for (j = 0; j < n_roots; j++)
		order[j] = ents[j].k;

	/* Preorder output, thread after thread, so a subtree is a contiguous run. */
	f->nodes = malloc((n_alive ? n_alive : 1) * sizeof *f->nodes);
	if (!f->nodes) {
		util_fail(err, errlen, "out of memory");
		goto out;
	}
	out = 0;
	{
		size_t top, prev_rep = THREAD_NONE, thread = THREAD_NONE;
		size_t *stk = malloc((n_alive ? n_alive : 1) * sizeof *stk);

		if (!stk) {
			util_fail(err, errlen, "out of memory");
			goto out;
		}
		for (j = 0; j < n_roots; j++) {
			size_t root = order[j], rep = uf_find(uf, root);

			if (rep != prev_rep) {
				thread = thread == THREAD_NONE ? 0 : thread + 1;
				prev_rep = rep;
			}
			top = 0;
			stk[top++] = root;
			while (top) {
				size_t u = stk[--top];
				struct thread_node *nd = &f->nodes[out];

				newidx[u] = out++;
				nd->id = b.c[u].id;
				nd->item = b.c[u].item;
				nd->thread = thread;
				nd->next_sibling = THREAD_NONE;
				nd->has_date = b.c[u].kdate != UNDATED;
				nd->date = b.c[u].kdate;
				if (b.c[u].item != THREAD_NONE) {
					nd->has_date = items[b.c[u].item].has_date;
					nd->date = nd->has_date ? items[b.c[u].item].date : 0;
				} else if (!nd->has_date) {
					nd->date = 0;
				}
				for (i = start[u] + nchild[u]; i-- > start[u];)
					stk[top++] = kids[i];
			}
		}
		free(stk);
		f->n_threads = thread == THREAD_NONE ? 0 : thread + 1;
	}
	f->n_nodes = out;
	f->n_roots = n_roots;
	f->first_root = n_roots ? newidx[order[0]] : THREAD_NONE;
	for (k = 0; k < b.nc; k++) {
		struct thread_node *nd;

		if (!alive[k])
			continue;
		nd = &f->nodes[newidx[k]];
		nd->parent = b.c[k].parent == THREAD_NONE ? THREAD_NONE : newidx[b.c[k].parent];
		nd->first_child = nchild[k] ? newidx[kids[start[k]]] : THREAD_NONE;
		for (j = start[k]; j + 1 < start[k] + nchild[k]; j++)
			f->nodes[newidx[kids[j]]].next_sibling = newidx[kids[j + 1]];
	}
	for (j = 0; j + 1 < n_roots; j++)
		f->nodes[newidx[order[j]]].next_sibling = newidx[order[j + 1]];
	*forest_out = f;
	f = NULL;
	rc = 0;
out:
	thread_free(f);
	free(b.c);
	free(b.tab);
	free(msgcont);
	free(dup);
	free(refcont);
	free(alive);
	free(uf);
	free(nchild);
	free(start);
	free(kids);
	free(order);
	free(newidx);
	free(ents);
	free(compkey_root);
	return rc;
}

void thread_free(struct thread_forest *forest)
{
	if (!forest)
		return;
	free(forest->nodes);
	free(forest->dups);
	free(forest);
}

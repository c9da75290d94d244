/* libFuzzer target: thread_build over items derived from the input.
 * One line per message: "ID ref ref ... >irt >irt @ !"; a token starting
 * with '>' goes to In-Reply-To, "@" gives the message a date (its line
 * number, reversed), "!" marks In-Reply-To noisy, "-" as ID is an empty id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "thread.h"

#define MAX_ITEMS 512
#define MAX_IDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct thread_item items[MAX_ITEMS];
	static struct thread_id refs[MAX_ITEMS][MAX_IDS], irts[MAX_ITEMS][MAX_IDS];
	const char *p = (const char *)data, *end = p + size;
	size_t n = 0;

	while (p < end && n < MAX_ITEMS) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		struct thread_item *it = &items[n];
		memset(it, 0, sizeof *it);
		it->references = refs[n];
		it->in_reply_to = irts[n];
		int first = 1;
		const char *q = p;
		while (q < eol) {
			while (q < eol && *q == ' ')
				q++;
			if (q >= eol)
				break;
			const char *t = q;
			while (q < eol && *q != ' ')
				q++;
			size_t tl = (size_t)(q - t);
			if (first) {
				first = 0;
				it->id.s = t;
				it->id.len = (tl == 1 && *t == '-') ? 0 : tl;
			} else if (tl == 1 && *t == '@') {
				it->has_date = 1;
				it->date = (int64_t)(MAX_ITEMS - n) * ((n & 3) ? 1 : -1);
			} else if (tl == 1 && *t == '!') {
				it->in_reply_to_noisy = 1;
			} else if (*t == '>') {
				if (it->n_in_reply_to < MAX_IDS)
					irts[n][it->n_in_reply_to++] = (struct thread_id){ t + 1, tl - 1 };
			} else if (it->n_references < MAX_IDS) {
				refs[n][it->n_references++] = (struct thread_id){ t, tl };
			}
		}
		if (first) /* blank line: empty id */
			it->id = (struct thread_id){ p, 0 };
		n++;
		p = eol + 1;
	}

	struct thread_forest *f;
	char err[256];
	if (thread_build(items, n, &f, err, sizeof err) < 0)
		abort(); /* only OOM / overflow, impossible at this size */

	/* Invariants: indices in range, links consistent, each item once or a dup. */
	unsigned char seen[MAX_ITEMS] = {0};
	size_t roots = 0;
	for (size_t r = f->first_root; r != THREAD_NONE; r = f->nodes[r].next_sibling) {
		if (r >= f->n_nodes || f->nodes[r].parent != THREAD_NONE || ++roots > f->n_nodes)
			abort();
	}
	if (roots != f->n_roots || (n > 0 && f->n_threads == 0) || f->n_threads > f->n_roots)
		abort();
	for (size_t i = 0; i < f->n_nodes; i++) {
		const struct thread_node *nd = &f->nodes[i];
		if (nd->parent != THREAD_NONE && nd->parent >= i)
			abort(); /* preorder: a parent comes first */
		if (nd->first_child != THREAD_NONE &&
		    (nd->first_child >= f->n_nodes || f->nodes[nd->first_child].parent != i))
			abort();
		if (nd->next_sibling != THREAD_NONE &&
		    (nd->next_sibling >= f->n_nodes || f->nodes[nd->next_sibling].parent != nd->parent))
			abort();
		if (nd->thread >= f->n_threads)
			abort();
		if (nd->item != THREAD_NONE) {
			if (nd->item >= n || seen[nd->item]++)
				abort();
		} else if (nd->first_child == THREAD_NONE) {
			abort(); /* ghosts with nothing below are dropped */
		}
	}
	for (size_t i = 0; i < f->n_dups; i++) {
		if (f->dups[i] >= n || seen[f->dups[i]]++ || (i && f->dups[i] <= f->dups[i - 1]))
			abort();
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			abort(); /* every item is a node or a dup */
	thread_free(f);
	return 0;
}

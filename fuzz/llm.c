/* libFuzzer target: llm_read_response, the reader of a model server's answer
 * (JSON body, choices, finish_reason, usage, key redaction, and digging a JSON
 * object out of prose or a ``` fence). The first byte picks the level asked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"

#define KEY "sk-fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct llm_result r;
	char why[400];
	enum llm_format asked;
	int v;

	if (size < 1)
		return 0;
	asked = (enum llm_format)(data[0] % 3);
	memset(&r, 0, sizeof r);
	v = llm_read_response((const char *)data + 1, size - 1, asked, KEY, &r, why, sizeof why);
	if (v < LLM_READ_OK || v > LLM_READ_OOM)
		abort();
	if (v == LLM_READ_OK) {
		if (!r.content || strlen(r.content) > r.content_len)
			abort();
		/* the key never survives into the content */
		if (memmem(r.content, r.content_len, KEY, strlen(KEY)))
			abort();
		if (r.json && (r.json < r.content || r.json + r.json_len > r.content + r.content_len ||
		               r.json[0] != '{'))
			abort();
		if (asked == LLM_TEXT && r.format != LLM_TEXT)
			abort();
	} else if (r.content || r.json) {
		abort();
	}
	if (!memchr(why, '\0', sizeof why))
		abort();
	llm_result_clear(&r);
	return 0;
}

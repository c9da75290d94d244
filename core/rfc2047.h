/*
 * rfc2047: RFC 2047 encoded words, charset conversion to UTF-8 (iconv, with
 * a built-in windows-1252 and fallbacks for bogus charset names), and the
 * transfer decoders shared by headers and bodies (base64, quoted-printable).
 * Not a header parser (mime.c) and not an encoder: listdigest only reads mail.
 */
#ifndef LISTDIGEST_RFC2047_H
#define LISTDIGEST_RFC2047_H

#include <stddef.h>

/* A growable byte buffer. Zero-initialise; p is malloc'ed and owned by the
 * buffer (NULL until the first write); mime_buf_free releases it. Writes
 * that fail to allocate set oom and are dropped, so callers check oom once
 * at the end instead of after every write. */
struct mime_buf {
	char *p;
	size_t len, cap;
	int oom;
};

int mime_buf_reserve(struct mime_buf *b, size_t extra);
void mime_buf_put(struct mime_buf *b, const char *s, size_t n);
void mime_buf_putc(struct mime_buf *b, char c);
void mime_buf_put_cp(struct mime_buf *b, unsigned cp);   /* one code point as UTF-8 */
void mime_buf_free(struct mime_buf *b);

/* Result bits of rfc2047_to_utf8 and rfc2047_decode: what the conversion had
 * to repair, for the caller to turn into a defect with its own context. */
#define RFC2047_BAD_CHARSET  0x1u  /* charset unknown/bogus: fallback used */
#define RFC2047_BAD_BYTES    0x2u  /* bytes invalid in the charset: U+FFFD */
#define RFC2047_8BIT_ASCII   0x4u  /* 8-bit bytes under us-ascii/no charset */
#define RFC2047_FALLBACK_1252 0x8u /* the fallback chosen was windows-1252 */
#define RFC2047_BAD_WORD     0x10u /* an encoded word was malformed */

/* 1 if s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no surrogates). */
int rfc2047_utf8_valid(const char *s, size_t n);

/* Appends s[0..n), in charset cs (cs_len bytes, any case, may be quoted or
 * carry an RFC 2231 "*lang" suffix), to out as UTF-8. Never drops input:
 * invalid sequences become U+FFFD. Unknown or bogus charsets ("y", "8",
 * "unknown-8bit") are read as UTF-8 if valid, else as windows-1252.
 * Returns the RFC2047_* bits describing repairs (0 when clean). */
unsigned rfc2047_to_utf8(const char *cs, size_t cs_len, const char *s, size_t n,
			 struct mime_buf *out);

/* Appends the RFC 2047 decoding of one header value v[0..n) to out as UTF-8:
 * unfolds (a fold and the blanks around it become one space), stops at the
 * end of the header (a line break not followed by a blank), decodes B and Q
 * words, joins adjacent encoded words (RFC 2047 §6.2) before charset
 * conversion so a multibyte character split across words survives, and
 * converts raw 8-bit text (UTF-8 if valid, else windows-1252). Leading and
 * trailing blanks are trimmed. Returns RFC2047_* bits. */
unsigned rfc2047_decode(const char *v, size_t n, struct mime_buf *out);

/* Transfer decoders (RFC 2045 §6.7, §6.8). Append to out; return the number
 * of input bytes that were invalid and skipped (base64) or kept literally
 * (quoted-printable). Whitespace and line breaks in base64 are not errors. */
size_t rfc2047_base64(const char *s, size_t n, struct mime_buf *out);
size_t rfc2047_qp(const char *s, size_t n, int header_q, struct mime_buf *out);

#endif

/*
 * mailout: writes one report as an RFC 5322 message (multipart/alternative:
 * the Markdown as text/plain and the HTML, both UTF-8, quoted-printable) and
 * submits it over SMTP with libcurl (STARTTLS when the server offers it).
 * Not a general MIME writer (no attachments, no non-ASCII addresses) and no
 * Lua here: 0 / -1 and a reason in a caller-supplied buffer.
 */
#ifndef LISTDIGEST_MAILOUT_H
#define LISTDIGEST_MAILOUT_H

#include <stddef.h>
#include <stdint.h>

/* What mailout_compose writes. Strings need only live during the call. */
struct mailout_message {
	const char *from;          /* "addr@host" or "Name <addr@host>", printable ASCII */
	const char *const *to;     /* nto addresses, same form as from */
	size_t nto;
	const char *subject;       /* UTF-8, one line */
	const char *text;          /* the text/plain part, UTF-8, LF or CRLF line ends */
	size_t text_len;
	const char *html;          /* the text/html part, UTF-8 */
	size_t html_len;
	int64_t date;              /* seconds since the epoch, written in UTC */
	const char *message_id;    /* id without <>, or NULL for a random one */
};

/*
 * Composes the message into *out_out (malloc'ed, NUL-terminated, CRLF line
 * ends; the caller frees it) and its length into *len_out. Fails (-1, the
 * reason in ERR) on input a header cannot carry (CR, LF or non-ASCII in an
 * address or id, a subject that is not UTF-8 or holds a line break, no
 * recipient) and when memory runs out.
 */
int mailout_compose(const struct mailout_message *m, char **out_out, size_t *len_out,
		    char *err, size_t errlen);

/* One SMTP submission. Strings need only live during the call. */
struct mailout_send {
	const char *url;           /* smtp://host[:port][/helo-name] or smtps://... */
	const char *from;          /* envelope sender: the addr of "Name <addr>" is used */
	const char *const *to;     /* envelope recipients, same form */
	size_t nto;
	const char *raw;           /* the message (mailout_compose's output) */
	size_t raw_len;
	const char *username;      /* SMTP AUTH, or NULL for none */
	const char *password;      /* never copied into an error message */
	double timeout;            /* seconds for the whole transaction; <= 0: 30 */
};

/*
 * Sends the message; blocks until the server accepted it for every
 * recipient or the transaction failed. Returns 0, or -1 with
 * "smtp URL (userinfo removed): cause" in ERR.
 */
int mailout_send(const struct mailout_send *s, char *err, size_t errlen);

#endif

/*
 * log: the one logging module.  Lines go to stderr as
 *   2026-11-28T18:22:28Z info  [module] text
 * or, when stderr is systemd's journal (JOURNAL_STREAM names it), which
 * dates each line itself, with sd-daemon(3)'s priority prefix instead of
 * the time:
 *   <6>info  [module] text
 * Every registered secret (tokens, passwords) is replaced by "***" in each
 * line before it is written, wherever it appears, so a URL that carries a
 * token can be logged as it is.
 */
#ifndef ENSEMBLE_LOG_H
#define ENSEMBLE_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Registers a secret to redact.  The log module keeps its own copy; strings
 * shorter than 4 bytes are ignored (they would redact ordinary words). */
void log_add_secret(const char *secret);
/* Frees the copies of the secrets (at exit). */
void log_forget_secrets(void);

void log_msg(enum log_level level, const char *module, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, LOG_MODULE, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, LOG_MODULE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, LOG_MODULE, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, LOG_MODULE, __VA_ARGS__)

#endif

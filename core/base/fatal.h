/*
 * fatal.h - the two ways to stop: fatal() and panic().
 *
 * INTERFACE: fatal(fmt, ...)  the environment is broken: log, exit(EX_SOFTWARE
 *                             style code 70); accepted mail is on disk.
 *            panic(fmt, ...)  a broken invariant: log the message and abort()
 *                             so a core file shows where.
 *            fatal_set_progname(name) names the program in the messages.
 * Both write to stderr and, once the log module has opened it, the panic log.
 */
#ifndef TERN_FATAL_H
#define TERN_FATAL_H

#define TERN_PRINTF(a, b) __attribute__((format(printf, a, b)))

void fatal_set_progname(const char *name);
const char *fatal_progname(void);
void fatal_set_panic_hook(void (*hook)(const char *msg));
_Noreturn void fatal(const char *fmt, ...) TERN_PRINTF(1, 2);
_Noreturn void panic(const char *fmt, ...) TERN_PRINTF(1, 2);

#endif

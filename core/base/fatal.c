/*
 * fatal.c - fatal() and panic(): report and stop.
 *
 * PURPOSE: the last resort of STYLE §5. A hook lets the log module copy the
 * message to the panic log without this layer knowing about log files.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fatal.h"

static const char *progname = "tern";
static void (*panic_hook)(const char *msg);

/* fatal_set_progname - name used as the message prefix */
void fatal_set_progname(const char *name)
{
    progname = name;
}

/* fatal_progname - the current prefix */
const char *fatal_progname(void)
{
    return progname;
}

/* fatal_set_panic_hook - also hand every fatal/panic message to hook */
void fatal_set_panic_hook(void (*hook)(const char *msg))
{
    panic_hook = hook;
}

__attribute__((format(printf, 2, 0)))
static void report(const char *kind, const char *fmt, va_list ap)
{
    char msg[1024];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "%s: %s%s\n", progname, kind, msg);
    fflush(stderr);
    if (panic_hook != NULL)
        panic_hook(msg);
}

/* fatal - report and exit with status 70 (EX_SOFTWARE) */
void fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("", fmt, ap);
    va_end(ap);
    exit(70);
}

/* panic - report a broken invariant and abort */
void panic(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    report("panic: ", fmt, ap);
    va_end(ap);
    abort();
}

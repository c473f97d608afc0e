/*
 * retry_conf.h - retry rule parsing (see retry_conf.c).
 */
#ifndef TERN_RETRY_CONF_H
#define TERN_RETRY_CONF_H

const char *retry_default_text(void);
int retry_error_valid(const char *e);

#endif

/* version.h - the tern release */
#ifndef TERN_VERSION_H
#define TERN_VERSION_H
#define TERN_VERSION "0.1.0"
#endif

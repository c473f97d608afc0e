/*
 * fuzz_config.c - libFuzzer target for the configuration loader: the input
 * becomes a conf.d file and is loaded (Lua parser, DSL, option conversion,
 * list parsing, cross-checks), then freed. Errors are expected; crashes,
 * leaks and undefined behaviour are not. The Lua sandbox's instruction
 * budget and memory cap keep every input bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/conf/conf.h"

static char dir[64], file[128];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char sub[96];

    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "/tmp/tern-fuzz-conf.%d", (int)getpid());
    snprintf(sub, sizeof(sub), "%s/router", dir);
    if (mkdir(dir, 0700) != 0 || mkdir(sub, 0700) != 0)
        abort();
    snprintf(file, sizeof(file), "%s/00.lua", sub);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct errbuf eb;
    struct conf *c;
    FILE *f = fopen(file, "w");

    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();
    c = conf_load(dir, &eb);
    if (c == NULL && eb.msg[0] == '\0')
        abort();                    /* every failure must say why */
    conf_free(c);
    return 0;
}

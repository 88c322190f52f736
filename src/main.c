/* main.c - options, and the choice of interactive, headless or replay mode. */
#include "config.h"

#include <stdio.h>

int
main(void)
{
    puts("nntop " PACKAGE_VERSION);
    return 0;
}

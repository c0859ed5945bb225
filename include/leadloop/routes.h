/* The route table the daemon serves (server/routes.c). Only the request path and the
 * tests name it; everything else gets it passed, so that the modules of the handlers it
 * lists can use router.h without an include circle. */
#ifndef LEADLOOP_ROUTES_H
#define LEADLOOP_ROUTES_H
#include "leadloop/router.h"

extern const struct route_table routes;

#endif

/* Admin routes: API keys and users of a workspace. */
#ifndef LEADLOOP_ADMIN_H
#define LEADLOOP_ADMIN_H
#include <jansson.h>
#include <libpq-fe.h>

#include "leadloop/db.h"

struct request;

/* The columns a user is read with, in the order admin_user_json expects. */
#define USER_COLUMNS_WITH(TS)                                                                      \
    "id, name, email, team, active, version, " TS("created_at") ", " TS(                           \
        "updated_at") ", role, " TS("activated_at")
#define USER_COLUMNS USER_COLUMNS_WITH(DB_TS)
/* The same in a RETURNING clause (db.h DB_TS_RET). */
#define USER_RETURNING USER_COLUMNS_WITH(DB_TS_RET)

/* The one representation of an API key (AUTH_KEY_COLUMNS) and of a user (new references). */
json_t *admin_key_json(const PGresult *res, int row);
json_t *admin_user_json(const PGresult *res, int row);
void admin_keys_list(struct request *r);
void admin_keys_create(struct request *r);
void admin_keys_get(struct request *r);
void admin_keys_update(struct request *r);
void admin_keys_revoke(struct request *r);
void admin_users_list(struct request *r);
void admin_users_create(struct request *r);
void admin_users_get(struct request *r);
void admin_users_update(struct request *r);
#endif

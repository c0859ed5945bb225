/* Admin routes: API keys and users of a workspace. */
#ifndef LEADLOOP_ADMIN_H
#define LEADLOOP_ADMIN_H
struct request;
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

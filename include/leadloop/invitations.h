/* Invitations into the web app (server/invitations.c): POST, GET /v1/invitations and
 * DELETE /v1/invitations/{id} for admins; POST /v1/invitations/accept for the invitee,
 * who sets a password with the link's token and is signed in. */
#ifndef LEADLOOP_INVITATIONS_H
#define LEADLOOP_INVITATIONS_H

struct request;

/* The statement that invites (ll_invite), for `leadloopd invite` too: parameters workspace
 * id, email, name, role, team (NULL: from the role), the token's hex SHA-256, inviting
 * user, inviting key, hours valid; answers the invitation's id, user_id, email, role, then
 * created_at and expires_at as text, or no row when the email can sign in already. */
extern const char invitations_sql_create[];

void invitations_create(struct request *r);
void invitations_list(struct request *r);
void invitations_revoke(struct request *r);
void invitations_accept(struct request *r);

#endif

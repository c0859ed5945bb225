/* Invitations into the web app (server/invitations.c): POST, GET /v1/invitations and
 * DELETE /v1/invitations/{id} for admins; POST /v1/invitations/accept for the invitee,
 * who sets a password with the link's token and is signed in. */
#ifndef LEADLOOP_INVITATIONS_H
#define LEADLOOP_INVITATIONS_H

struct request;

void invitations_create(struct request *r);
void invitations_list(struct request *r);
void invitations_revoke(struct request *r);
void invitations_accept(struct request *r);

#endif

/* The filters of GET /v1/leads: read and checked once from the query, then written as
 * the statement's FROM and WHERE for each statement that lists leads (a JSON page in
 * leads.c, every page of the CSV export in lead_export.c), so that both list the same
 * leads. */
#include "leadloop/lead_filter.h"

#include <stdio.h>
#include <string.h>

#include "leadloop/jsonv.h"
#include "leadloop/request.h"
#include "leadloop/resource.h"
#include "leadloop/stages.h"
#include "leadloop/util.h"
#include "leadloop/vocab.h"

static const struct sort_key sorts[] = {{"created_at", "created_at", "timestamptz"},
                                        {"updated_at", "updated_at", "timestamptz"},
                                        {"score", "coalesce(score, -1)", "integer"},
                                        /* the work lists' own (lead_filter_read checks which) */
                                        {"waiting_since", "waiting_since", "timestamptz"},
                                        {"recycle_on", "recycle_on", "date"},
                                        {NULL, NULL, NULL}};

/* The leads handed to sales with no follow-up yet, as the follow-up report counts them
 * (report_leads: handed_at set; first_feedback_at, first_attempt_at and first_contact_at
 * not), with the time they were handed over: a table named leads, so that every other
 * filter reads the same. The partial index report_leads_waiting (workspace_id, handed_at,
 * lead_id) gives them in the list's order, and the page's keyset, on waiting_since and
 * waiting_id (both the index's), starts inside it, however deep the page. */
static const char from_waiting[] =
    ", waiting_id FROM (SELECT l.*, f.handed_at AS waiting_since, f.lead_id AS waiting_id"
    " FROM leads l JOIN report_leads f"
    " ON f.workspace_id = l.workspace_id AND f.lead_id = l.id"
    " WHERE f.handed_at IS NOT NULL AND f.first_feedback_at IS NULL"
    " AND f.first_attempt_at IS NULL AND f.first_contact_at IS NULL) leads"
    " WHERE workspace_id = $? AND erased_at IS NULL AND merged_into IS NULL";

static const char *const time_names[3] = {"created_since", "created_until", "updated_since"};
static const char *const time_sql[3] = {" AND created_at >= $?::timestamptz",
                                        " AND created_at < $?::timestamptz",
                                        " AND updated_at >= $?::timestamptz"};
static const char *const utm_sql[3] = {" AND utm_source = $?", " AND utm_medium = $?",
                                       " AND utm_campaign = $?"};

/* A work list's filter: absent, or "true". Answers 400 and returns false for anything else. */
static bool work_flag(struct request *r, const char *name, bool *on)
{
    const char *v = req_query(r, name);
    *on = v != NULL;
    if (!v || !strcmp(v, "true"))
        return true;
    reply_bad_param(r, name, "can only be true (leave it out to list every lead)");
    return false;
}

bool lead_filter_read(struct request *r, struct lead_filter *f, struct listing *l, bool paging)
{
    static const char *const allowed[] = {"limit",
                                          "cursor",
                                          "sort",
                                          "stage",
                                          "owner_id",
                                          "campaign_id",
                                          "source",
                                          "score_min",
                                          "created_since",
                                          "created_until",
                                          "updated_since",
                                          "q",
                                          "awaiting_feedback",
                                          "overdue",
                                          "recycle_due",
                                          "utm_source",
                                          "utm_medium",
                                          "utm_campaign",
                                          NULL};
    long score;

    memset(f, 0, sizeof *f);
    if (!req_query_allowed(r, allowed) || !work_flag(r, "awaiting_feedback", &f->awaiting) ||
        !work_flag(r, "overdue", &f->overdue) || !work_flag(r, "recycle_due", &f->recycle_due))
        return false;
    if (!paging && (req_query(r, "limit") || req_query(r, "cursor")))
        return reply_bad_param(r, req_query(r, "limit") ? "limit" : "cursor",
                               "does not apply to the CSV export, which holds every lead the "
                               "filters let through");
    f->stage = req_query(r, "stage");
    f->owner = req_query(r, "owner_id");
    f->campaign = req_query(r, "campaign_id");
    f->source = req_query(r, "source");
    f->score_min = req_query(r, "score_min");
    f->text = req_query(r, "q");
    for (int i = 0; i < 3; i++) {
        f->times[i] = req_query(r, time_names[i]);
        f->utm[i] = req_query(r, vocab_visit_fields[i]);
    }
    f->awaiting = f->awaiting || f->overdue; /* overdue leads are awaiting feedback too */
    if (f->awaiting && f->recycle_due)
        return reply_bad_param(r, "recycle_due",
                               "cannot be combined with awaiting_feedback or overdue (a recycled "
                               "lead awaits no verdict)");
    /* work lists come oldest first */
    if (!list_params(r, l, sorts,
                     f->awaiting      ? "waiting_since"
                     : f->recycle_due ? "recycle_on"
                                      : "-created_at"))
        return false;
    if ((!strcmp(l->sort->name, "waiting_since") && !f->awaiting) ||
        (!strcmp(l->sort->name, "recycle_on") && !f->recycle_due))
        return reply_bad_param(
            r, "sort",
            f->awaiting || f->recycle_due
                ? "this work list sorts by waiting_since (awaiting_feedback, overdue) "
                  "or recycle_on (recycle_due), or the list's own fields"
                : "waiting_since needs awaiting_feedback or overdue, recycle_on "
                  "needs recycle_due");
    if (f->owner && !strcmp(f->owner, "me")) { /* the caller's own: a key's user, a person */
        if (!r->auth.user_id[0])
            return reply_bad_param(r, "owner_id", "is me, but this API key has no user");
        f->owner = r->auth.user_id;
    }
    if (f->stage && !stages_is_stage(f->stage))
        return reply_bad_param(r, "stage", "is not a lifecycle stage");
    if (f->source && !jv_in_list(f->source, vocab_lead_sources))
        return reply_bad_param(r, "source", "is not a lead source");
    if ((f->owner && !util_is_uuid(f->owner)) || (f->campaign && !util_is_uuid(f->campaign)))
        return reply_bad_param(r, f->owner && !util_is_uuid(f->owner) ? "owner_id" : "campaign_id",
                               "must be a UUID");
    if (f->score_min && !util_parse_long(f->score_min, 0, 100, &score))
        return reply_bad_param(r, "score_min", "must be an integer from 0 to 100");
    for (int i = 0; i < 3; i++) {
        if (f->times[i] && !jv_timestamp_valid(f->times[i]))
            return reply_bad_param(r, time_names[i],
                                   "must be an RFC 3339 timestamp with a time zone");
        /* as a lead's UTM parameter may be: any other value matches no lead */
        if (f->utm[i] && (jv_utf8_chars(f->utm[i]) < 1 || jv_utf8_chars(f->utm[i]) > 255 ||
                          !util_utf8_valid(f->utm[i], strlen(f->utm[i]))))
            return reply_bad_param(r, vocab_visit_fields[i], "must be 1 to 255 characters");
    }
    if (f->text && (jv_utf8_chars(f->text) < 1 || jv_utf8_chars(f->text) > 100 ||
                    !like_escape(f->text, f->like, sizeof f->like)))
        return reply_bad_param(r, "q", "must be 1 to 100 characters");
    snprintf(f->sla, sizeof f->sla, "%ld", r->cfg->sla_hours);
    return true;
}

const char *lead_filter_id(const struct lead_filter *f)
{
    return f->awaiting ? "waiting_id" : "id";
}

void lead_filter_sql(struct qb *q, const struct lead_filter *f, const char *workspace_id)
{
    qb_addp(q,
            f->awaiting ? from_waiting
                        : ", id FROM leads WHERE workspace_id = $? AND erased_at IS NULL"
                          " AND merged_into IS NULL",
            workspace_id);
    if (f->overdue) { /* the workspace's SLA, in its business hours when it has them */
        qb_addp(q,
                " AND waiting_since < (SELECT ll_sla_cutoff(w.sla_hours, w.time_zone,"
                " w.business_days, w.business_start, w.business_end, $?::integer)",
                f->sla);
        qb_addp(q, " FROM workspaces w WHERE w.id = $?::uuid)", workspace_id);
    }
    if (f->recycle_due) /* today in the workspace's time zone */
        qb_addp(q,
                " AND stage = 'recycled' AND recycle_on <= (SELECT (now() AT TIME ZONE"
                " time_zone)::date FROM workspaces WHERE id = $?::uuid)",
                workspace_id);
    if (f->stage)
        qb_addp(q, " AND stage = $?", f->stage);
    if (f->source)
        qb_addp(q, " AND source = $?", f->source);
    for (int i = 0; i < 3; i++)
        if (f->utm[i])
            qb_addp(q, utm_sql[i], f->utm[i]);
    if (f->owner)
        qb_addp(q, " AND owner_id = $?::uuid", f->owner);
    if (f->campaign)
        qb_addp(q,
                " AND EXISTS (SELECT 1 FROM campaign_touches t WHERE t.workspace_id ="
                " leads.workspace_id AND t.lead_id = leads.id AND t.campaign_id = $?::uuid)",
                f->campaign);
    if (f->score_min)
        qb_addp(q, " AND score >= $?::smallint", f->score_min);
    for (int i = 0; i < 3; i++)
        if (f->times[i])
            qb_addp(q, time_sql[i], f->times[i]);
    if (f->text) {
        qb_addp(q, " AND (ll_fold(email) LIKE ll_fold($?) || '%'", f->like);
        qb_addp(q, " OR ll_fold(first_name) LIKE ll_fold($?) || '%'", f->like);
        qb_addp(q, " OR ll_fold(last_name) LIKE ll_fold($?) || '%'", f->like);
        qb_addp(q, " OR ll_fold(company) LIKE ll_fold($?) || '%')", f->like);
    }
}

/* The lifecycle's stages and their rules (stages.h), gathered from lifecycle.c, leads.c
 * and feedback.c, which each kept a copy of the list. The order of vocab_stages (the
 * one list, vocab.c) is the funnel's, and the rules below lean on it: the first OPEN_STAGES are the
 * open ones. */
#include "leadloop/stages.h"

#include <stdio.h>
#include <string.h>

#include "leadloop/vocab.h"

#define OPEN_STAGES 5 /* new .. opportunity */
#define CUSTOMER    5 /* the end of the funnel */

/* The index of s in vocab_stages, or -1. */
static int stage_index(const char *s)
{
    for (int i = 0; s && vocab_stages[i]; i++)
        if (!strcmp(s, vocab_stages[i]))
            return i;
    return -1;
}

bool stages_is_stage(const char *s)
{
    return stage_index(s) >= 0;
}

bool stages_is_open(const char *s)
{
    int i = stage_index(s);
    return i >= 0 && i < OPEN_STAGES;
}

size_t stages_targets(const char *from, const char *out[8])
{
    size_t n = 0;
    int at = stage_index(from);
    if (at >= 0 && at < OPEN_STAGES) {
        for (int i = at + 1; i <= CUSTOMER; i++)
            out[n++] = vocab_stages[i];
        out[n++] = "recycled";
        out[n++] = "disqualified";
    } else if (from && !strcmp(from, "recycled")) {
        out[n++] = "mql";
    } else if (from && !strcmp(from, "customer")) {
        out[n++] = "opportunity"; /* a returning customer's next deal */
    } else if (from && !strcmp(from, "disqualified")) {
        out[n++] = "recycled"; /* a disqualification gone stale, back to marketing */
    }
    return n;
}

bool stages_allowed(const char *from, const char *to)
{
    const char *t[8];
    size_t n = stages_targets(from, t);
    for (size_t i = 0; to && i < n; i++)
        if (!strcmp(t[i], to))
            return true;
    return false;
}

const char *stages_after_feedback(const char *kind, const char *stage, bool disqualifies,
                                  bool was_customer, char *why, size_t whylen)
{
    bool open = stages_is_open(stage);
    bool before_acceptance = !strcmp(stage, "new") || !strcmp(stage, "mql");
    bool accepted = open && !before_acceptance; /* sales_accepted .. opportunity */
    const char *verdict = disqualifies ? "disqualified" : "recycled";
    if (!strcmp(kind, "accepted") || !strcmp(kind, "rejected")) {
        if (before_acceptance)
            return !strcmp(kind, "accepted") ? "sales_accepted" : verdict;
        snprintf(why, whylen,
                 "a lead in stage %s has had its verdict; %s is for leads in new or mql", stage,
                 kind);
        return NULL;
    }
    if (!strcmp(kind, "correction")) /* of an amount: no move, in any stage */
        return stage;
    if (!strcmp(kind, "won") || !strcmp(kind, "lost")) {
        /* a customer's lost next deal leaves it a customer of the deals it won */
        if (accepted)
            return !strcmp(kind, "won") || was_customer ? "customer" : verdict;
        snprintf(why, whylen,
                 "a lead in stage %s cannot be %s: only leads sales has accepted "
                 "(sales_accepted, sales_qualified, opportunity) can",
                 stage, kind);
        return NULL;
    }
    if (open) /* contacted, meeting_booked: no move; recycled: back to marketing */
        return !strcmp(kind, "recycled") ? verdict : stage;
    snprintf(why, whylen, "a lead in stage %s is closed: it takes no %s feedback", stage, kind);
    return NULL;
}

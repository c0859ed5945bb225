/* The webhook receiver's self-test (receiver.c), before the webhook suites trust it: the
 * Standard Webhooks example verifies, wrong signatures and secrets do not, a rotation's
 * second secret does, timestamps are judged, the script answers, ids are counted. Requests
 * are made here by hand, signed with the spec's published example; the daemon is not used. */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "receiver.h"
#include "suites.h"
#include "support.h"

/* The example of the Standard Webhooks reference libraries. */
#define VEC_SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define VEC_ID        "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define VEC_TIMESTAMP "1614265330"
#define VEC_BODY      "{\"test\": 2432232314}"
#define VEC_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
/* A second example, with a padded key (bytes 0 to 31), signed with the openssl command:
 * printf '%s' 'msg_2.1700000000.{"type":"lead.created"}' |
 *     openssl dgst -sha256 -mac HMAC -macopt hexkey:000102...1f -binary | base64 */
#define OTHER_SECRET    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define OTHER_ID        "msg_2"
#define OTHER_TIMESTAMP "1700000000"
#define OTHER_BODY      "{\"type\":\"lead.created\"}"
#define OTHER_SIGNATURE "v1,F7HSYpLdx4dSu4FjzpnDH2zrgu2kiktlVVeJbXvG4Mo="

/* POSTs body to the receiver's /hook with the webhook headers that are not NULL; returns
 * the status. */
static long deliver(struct receiver *r, const char *id, const char *ts, const char *sig,
                    const char *body)
{
    struct daemon d = {.port = receiver_port(r)};
    char h_id[160], h_ts[64], h_sig[512];
    const char *headers[5] = {"Content-Type: application/json"};
    int n = 1;
    struct resp *resp;
    long status;

    receiver_url(r, "", d.base, sizeof d.base);
    if (id) {
        snprintf(h_id, sizeof h_id, "webhook-id: %s", id);
        headers[n++] = h_id;
    }
    if (ts) {
        snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %s", ts);
        headers[n++] = h_ts;
    }
    if (sig) {
        snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
        headers[n++] = h_sig;
    }
    resp = req(&d, "POST", "/hook?attempt=1", NULL, headers, body, strlen(body));
    status = resp->status;
    resp_free(resp);
    return status;
}

START_TEST(reference_vector_verifies)
{
    struct receiver *r = receiver_start(VEC_SECRET);
    const struct receiver_entry *e;

    ck_assert_int_eq(deliver(r, VEC_ID, VEC_TIMESTAMP, VEC_SIGNATURE, VEC_BODY), 200);
    ck_assert_uint_eq(receiver_count(r), 1);
    e = receiver_entry(r, 0);
    ck_assert_msg(e->verified, "the spec's example expected to verify (signatures %d, matched %u)",
                  e->signatures, e->matched);
    ck_assert_int_eq(e->signatures, 1);
    ck_assert_uint_eq(e->matched, 1);
    ck_assert_msg(!e->fresh, "a timestamp of 2021 expected to be stale");
    ck_assert_int_eq(e->ts, 1614265330);
    ck_assert_str_eq(e->id, VEC_ID);
    ck_assert_str_eq(e->timestamp, VEC_TIMESTAMP);
    ck_assert_str_eq(e->signature, VEC_SIGNATURE);
    ck_assert_str_eq(e->method, "POST");
    ck_assert_str_eq(e->path, "/hook");
    ck_assert_str_eq(e->content_type, "application/json");
    ck_assert_str_eq(e->body, VEC_BODY);
    ck_assert_uint_eq(e->body_len, strlen(VEC_BODY));
    ck_assert_ptr_nonnull(e->json);
    ck_assert_int_eq(json_integer_value(json_object_get(e->json, "test")), 2432232314);
    ck_assert_int_eq(e->status, 200);
    ck_assert_ptr_null(receiver_entry(r, 1));
    receiver_stop(r);

    r = receiver_start(OTHER_SECRET);
    ck_assert_int_eq(deliver(r, OTHER_ID, OTHER_TIMESTAMP, OTHER_SIGNATURE, OTHER_BODY), 200);
    ck_assert_msg(receiver_entry(r, 0)->verified, "the padded key's example expected to verify");
    receiver_stop(r);
}
END_TEST

START_TEST(wrong_signatures_fail)
{
    static const struct {
        const char *secret, *id, *ts, *sig, *body, *why;
    } cases[] = {
        {VEC_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_SIGNATURE, "{\"test\": 2432232315}",
         "another body"},
        {VEC_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJeK", VEC_TIMESTAMP, VEC_SIGNATURE, VEC_BODY,
         "another id"},
        {VEC_SECRET, VEC_ID, "1614265331", VEC_SIGNATURE, VEC_BODY, "another timestamp"},
        {VEC_SECRET, VEC_ID, VEC_TIMESTAMP,
         "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", VEC_BODY, "one character changed"},
        {VEC_SECRET, VEC_ID, VEC_TIMESTAMP,
         "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", VEC_BODY, "another version"},
        {VEC_SECRET, VEC_ID, VEC_TIMESTAMP,
         "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", VEC_BODY, "no version"},
        {VEC_SECRET, VEC_ID, VEC_TIMESTAMP, NULL, VEC_BODY, "no signature"},
        {OTHER_SECRET, VEC_ID, VEC_TIMESTAMP, VEC_SIGNATURE, VEC_BODY, "another secret"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct receiver *r = receiver_start(cases[i].secret);
        const struct receiver_entry *e;
        ck_assert_int_eq(deliver(r, cases[i].id, cases[i].ts, cases[i].sig, cases[i].body), 200);
        e = receiver_entry(r, 0);
        ck_assert_msg(e && !e->verified && e->matched == 0, "%s: expected not verified",
                      cases[i].why);
        receiver_stop(r);
    }
}
END_TEST

START_TEST(rotation_accepts_either_secret)
{
    struct receiver *r = receiver_start(OTHER_SECRET);
    const char *both = "v1,bm9wZQ== " VEC_SIGNATURE;
    const struct receiver_entry *e;

    ck_assert_int_eq(deliver(r, VEC_ID, VEC_TIMESTAMP, both, VEC_BODY), 200);
    ck_assert(!receiver_entry(r, 0)->verified);
    receiver_add_secret(r, VEC_SECRET);
    ck_assert_int_eq(deliver(r, VEC_ID, VEC_TIMESTAMP, both, VEC_BODY), 200);
    e = receiver_entry(r, 1);
    ck_assert_msg(e->verified, "the second signature under the second secret expected to verify");
    ck_assert_int_eq(e->signatures, 2);
    ck_assert_uint_eq(e->matched, 2); /* bit 1: the secret added */

    receiver_set_secret(r, OTHER_SECRET); /* the rotation is over */
    ck_assert_int_eq(deliver(r, VEC_ID, VEC_TIMESTAMP, both, VEC_BODY), 200);
    ck_assert(!receiver_entry(r, 2)->verified);
    ck_assert_int_eq(
        deliver(r, OTHER_ID, OTHER_TIMESTAMP, "v1,bm9wZQ== " OTHER_SIGNATURE, OTHER_BODY), 200);
    ck_assert_uint_eq(receiver_entry(r, 3)->matched, 1);
    receiver_set_secret(r, NULL);
    ck_assert_int_eq(deliver(r, VEC_ID, VEC_TIMESTAMP, VEC_SIGNATURE, VEC_BODY), 200);
    ck_assert(!receiver_entry(r, 4)->verified);
    receiver_stop(r);
}
END_TEST

START_TEST(timestamps_are_judged)
{
    struct receiver *r = receiver_start(VEC_SECRET);
    long long now = (long long)time(NULL);
    static const struct {
        long long offset;
        bool fresh;
    } cases[] = {{0, true}, {-290, true}, {290, true}, {-400, false}, {400, false}};
    char ts[32];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct receiver_entry *e;
        snprintf(ts, sizeof ts, "%lld", now + cases[i].offset);
        ck_assert_int_eq(deliver(r, "msg_t", ts, NULL, "{}"), 200);
        e = receiver_entry(r, i);
        ck_assert_msg(e->fresh == cases[i].fresh, "now%+lld: expected %s", cases[i].offset,
                      cases[i].fresh ? "fresh" : "stale");
        ck_assert_int_eq(e->ts, now + cases[i].offset);
    }
    ck_assert_int_eq(deliver(r, "msg_t", "12ab", NULL, "{}"), 200);
    ck_assert(!receiver_entry(r, 5)->fresh);
    ck_assert_int_eq(receiver_entry(r, 5)->ts, 0);
    ck_assert_int_eq(deliver(r, "msg_t", NULL, NULL, "{}"), 200);
    ck_assert(!receiver_entry(r, 6)->fresh);
    ck_assert_str_eq(receiver_entry(r, 6)->timestamp, "");
    receiver_stop(r);
}
END_TEST

START_TEST(script_answers_in_order)
{
    struct receiver *r = receiver_start(VEC_SECRET);
    static const int expected[] = {500, 500, 410, 200, 200};

    receiver_script(r, 2, 500);
    receiver_script(r, 1, 410);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        ck_assert_int_eq(deliver(r, "msg_s", VEC_TIMESTAMP, NULL, "{}"), expected[i]);
        ck_assert_int_eq(receiver_entry(r, i)->status, expected[i]);
    }
    receiver_stop(r);
}
END_TEST

/* A POST with libcurl directly: status 0 when nothing came back (req() would fail). */
static long post_raw(struct receiver *r, const char *id)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct growbuf answer = {NULL, 0};
    char url[96], hid[96];
    long status = 0;

    receiver_url(r, "/hook", url, sizeof url);
    snprintf(hid, sizeof hid, "webhook-id: %s", id);
    h = curl_slist_append(h, hid);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, growbuf_append);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(answer.p);
    return status;
}

START_TEST(script_can_hang_up)
{
    struct receiver *r = receiver_start(VEC_SECRET);

    receiver_script(r, 1, 0);
    ck_assert_int_eq(post_raw(r, "msg_h"), 0);
    ck_assert_int_eq(post_raw(r, "msg_h"), 200);
    ck_assert_uint_eq(receiver_count(r), 2);
    ck_assert_int_eq(receiver_entry(r, 0)->status, 0);
    ck_assert_int_eq(receiver_entry(r, 1)->status, 200);
    receiver_stop(r);
}
END_TEST

START_TEST(ids_are_counted)
{
    struct receiver *r = receiver_start(VEC_SECRET);
    static const char *const ids[] = {"msg_a", "msg_b", "msg_a", "msg_a", "msg_c"};

    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        ck_assert_int_eq(deliver(r, ids[i], VEC_TIMESTAMP, NULL, "{}"), 200);
    ck_assert_uint_eq(receiver_count(r), 5);
    ck_assert_uint_eq(receiver_distinct_ids(r), 3);
    ck_assert_uint_eq(receiver_duplicates(r), 2);
    ck_assert_uint_eq(receiver_id_count(r, "msg_a"), 3);
    ck_assert_uint_eq(receiver_id_count(r, "msg_b"), 1);
    ck_assert_uint_eq(receiver_id_count(r, "msg_z"), 0);
    ck_assert_ptr_eq(receiver_find(r, "msg_a"), receiver_entry(r, 3));
    ck_assert_ptr_eq(receiver_find(r, "msg_b"), receiver_entry(r, 1));
    ck_assert_ptr_null(receiver_find(r, "msg_z"));
    receiver_stop(r);
}
END_TEST

struct post_job {
    struct receiver *r;
    long status;
};

static void *post_from_thread(void *arg)
{
    struct post_job *job = arg;
    job->status = post_raw(job->r, "msg_w");
    return NULL;
}

START_TEST(wait_count_wakes_and_times_out)
{
    struct post_job job = {receiver_start(VEC_SECRET), 0};
    pthread_t t;
    long ms;

    ck_assert(receiver_wait_count(job.r, 0, 0));
    ck_assert_int_eq(pthread_create(&t, NULL, post_from_thread, &job), 0);
    ck_assert_msg(receiver_wait_count(job.r, 1, 10000), "a delivery expected within 10 s");
    pthread_join(t, NULL);
    ck_assert_int_eq(job.status, 200);

    ms = sock_now_ms();
    ck_assert(!receiver_wait_count(job.r, 2, 150));
    ms = sock_now_ms() - ms;
    ck_assert_msg(ms >= 140 && ms < 2000, "a wait of 150 ms took %ld ms", ms);
    receiver_stop(job.r);
}
END_TEST

START_TEST(delay_holds_the_answer_back_not_the_log)
{
    struct post_job job = {receiver_start(VEC_SECRET), 0};
    pthread_t t;
    long ms;

    receiver_set_delay_ms(job.r, 1500);
    ms = sock_now_ms();
    ck_assert_int_eq(pthread_create(&t, NULL, post_from_thread, &job), 0);
    ck_assert_msg(receiver_wait_count(job.r, 1, 1000),
                  "a request held back 1.5 s expected in the log at once");
    pthread_join(t, NULL);
    ms = sock_now_ms() - ms;
    ck_assert_int_eq(job.status, 200);
    ck_assert_msg(ms >= 1490, "an answer held back 1.5 s came after %ld ms", ms);
    receiver_set_delay_ms(job.r, 0);
    ms = sock_now_ms();
    ck_assert_int_eq(post_raw(job.r, "msg_n"), 200);
    ck_assert_msg(sock_now_ms() - ms < 1000, "with no delay the answer took %ld ms",
                  sock_now_ms() - ms);
    receiver_stop(job.r);
}
END_TEST

Suite *receiver_suite(void)
{
    Suite *s = suite_create("receiver");
    TCase *t = tcase_create("receiver");
    tcase_set_timeout(t, 30);
    tcase_add_test(t, reference_vector_verifies);
    tcase_add_test(t, wrong_signatures_fail);
    tcase_add_test(t, rotation_accepts_either_secret);
    tcase_add_test(t, timestamps_are_judged);
    tcase_add_test(t, script_answers_in_order);
    tcase_add_test(t, script_can_hang_up);
    tcase_add_test(t, ids_are_counted);
    tcase_add_test(t, wait_count_wakes_and_times_out);
    tcase_add_test(t, delay_holds_the_answer_back_not_the_log);
    suite_add_tcase(s, t);
    return s;
}

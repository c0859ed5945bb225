/* libFuzzer target: a lead body through the validators of POST, PATCH and PUT
 * (leads_read over jsonv.c), as the daemon reads it: json_loadb with duplicate keys
 * refused, then an object. Every error list must be an array of {field, message}. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "leadloop/jsonv.h"
#include "leadloop/leads.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum lead_mode modes[] = {LEAD_CREATE, LEAD_PATCH, LEAD_UPSERT};
    json_error_t e;
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        struct jv v;
        struct lead_in in;
        jv_init(&v);
        leads_read(&v, body, modes[m], &in);
        if (!jv_ok(&v)) {
            json_t *errors = jv_take(&v);
            size_t i;
            json_t *err;
            if (!json_is_array(errors) || json_array_size(errors) == 0)
                abort();
            json_array_foreach(errors, i, err)
            {
                if (!json_is_string(json_object_get(err, "field")) ||
                    !json_is_string(json_object_get(err, "message")))
                    abort();
            }
            json_decref(errors);
        } else if (modes[m] == LEAD_CREATE && !in.email) {
            abort(); /* a valid create names its email */
        }
        lead_in_free(&in);
        jv_free(&v);
    }
    json_decref(body);
    return 0;
}

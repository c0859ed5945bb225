/* ISO code lists the API validates against: ISO 4217 currencies in use and ISO 3166-1
 * alpha-2 countries. */
#ifndef LEADLOOP_ISO_H
#define LEADLOOP_ISO_H
#include <stdbool.h>
#include <stddef.h>

bool iso_currency(const char *code); /* "EUR": true; metals, funds-test codes: false */
bool iso_country(const char *code);  /* "DE": true */
size_t iso_country_count(void);

#endif

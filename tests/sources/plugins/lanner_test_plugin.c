/* A Falco plugin written for lanner's tests: event sourcing + field extraction, with switches that drive
 * every error path of the host (wrong API version, failing init, failing open, failing or malformed
 * extraction, malformed events). Built by the tests with gcc; ABI layouts declared here by hand. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef REQ_API
#define REQ_API "3.0.0"
#endif
#ifndef PNAME
#define PNAME "lanner_test"
#endif
/* EXTRACT_ONLY: no event sourcing; EXTRACT_SOURCES: the sources it extracts from (JSON array) */
#ifndef EXTRACT_SOURCES
#define EXTRACT_SOURCES "[]"
#endif

typedef struct __attribute__((packed)) { uint64_t ts, tid; uint32_t len; uint16_t type; uint32_t nparams; } evt_t;
typedef struct { const evt_t *evt; uint64_t evtnum; const char *evtsrc; } evt_input_t;
typedef struct { uint32_t len; const void *ptr; } bytebuf_t;
typedef struct {
    union { const char **str; uint64_t *u64; uint32_t *u32; bytebuf_t *buf; } res;
    uint64_t res_len; uint32_t field_id; const char *field; const char *arg_key; uint64_t arg_index;
    uint32_t arg_present; uint32_t ftype; uint32_t flist;
} extract_field_t;
typedef struct { void *owner; void *get_owner_last_error; uint32_t num_fields; extract_field_t *fields; } extract_input_t;
typedef struct {
    const char *config; void *owner; const char *(*get_owner_last_error)(void *);
    void *tables; void (*log_fn)(void *, const char *, const char *, int);
} init_input_t;

typedef struct {
    char err[256]; char cfg[64]; int count, emitted; evt_t *buf; uint64_t u64; const char *strs[3];
    uint8_t ip[4]; bytebuf_t bb; void *owner; void (*log_fn)(void *, const char *, const char *, int);
} state_t;

const char *plugin_get_required_api_version(void) { return REQ_API; }
const char *plugin_get_name(void) { return PNAME; }
const char *plugin_get_version(void) { return "1.2.3"; }
const char *plugin_get_description(void) { return "lanner test plugin"; }
const char *plugin_get_contact(void) { return "lanner tests"; }
const char *plugin_get_extract_event_sources(void) { return EXTRACT_SOURCES; }
#ifndef EXTRACT_ONLY
uint32_t plugin_get_id(void) { return 1999; }
const char *plugin_get_event_source(void) { return "lanner_test"; }
#endif
const char *plugin_get_fields(void) {
    return "[{\"type\":\"uint64\",\"name\":\"test.num\",\"desc\":\"event number from the payload\"},"
           "{\"type\":\"string\",\"name\":\"test.text\",\"desc\":\"payload text\",\"addOutput\":true},"
           "{\"type\":\"string\",\"name\":\"test.words\",\"desc\":\"payload words\",\"isList\":true},"
           "{\"type\":\"ipaddr\",\"name\":\"test.ip\",\"desc\":\"a fixed address\"},"
           "{\"type\":\"string\",\"name\":\"test.fail\",\"desc\":\"extraction that fails\"},"
           "{\"type\":\"string\",\"name\":\"test.arg\",\"desc\":\"echoes its key\",\"arg\":{\"isKey\":true,\"isRequired\":true}}]";
}

void *plugin_init(const init_input_t *in, int32_t *rc) {
    state_t *s = calloc(1, sizeof(state_t));
    snprintf(s->cfg, sizeof s->cfg, "%s", in->config ? in->config : "");
    s->owner = in->owner; s->log_fn = in->log_fn;
    if (s->log_fn) s->log_fn(s->owner, NULL, "test plugin initialising", 6);
    if (strcmp(s->cfg, "fail") == 0) {
        snprintf(s->err, sizeof s->err, "init refused: the config asked to fail");
        *rc = 1;
        return s;
    }
    *rc = 0;
    return s;
}
void plugin_destroy(void *p) { state_t *s = p; free(s->buf); free(s); }
const char *plugin_get_last_error(void *p) { return ((state_t *)p)->err; }

#ifndef EXTRACT_ONLY
void *plugin_open(void *p, const char *params, int32_t *rc) {
    state_t *s = p;
    if (params && strcmp(params, "fail") == 0) {
        snprintf(s->err, sizeof s->err, "cannot open: params asked to fail");
        *rc = 1;
        return NULL;
    }
    s->count = params && *params && strcmp(params, "malformed") ? atoi(params) : 3;
    s->emitted = 0;
    if (params && strcmp(params, "malformed") == 0) s->count = -1;
    *rc = 0;
    return s;
}
void plugin_close(void *p, void *h) { (void)p; (void)h; }

int32_t plugin_next_batch(void *p, void *h, uint32_t *nevts, evt_t ***evts) {
    static evt_t *one[1];
    state_t *s = p; (void)h;
    char text[64];
    if (s->count < 0) {               /* malformed: a length shorter than the header */
        free(s->buf);
        s->buf = calloc(1, 64);
        s->buf->len = 10; s->buf->type = 322; s->buf->nparams = 2;
        one[0] = s->buf; *evts = one; *nevts = 1; s->count = 0;
        return 0;
    }
    if (s->emitted >= s->count) { *nevts = 0; return 2; }
    int n = snprintf(text, sizeof text, "event %d of %d", s->emitted + 1, s->count) + 1;
    uint32_t len = sizeof(evt_t) + 8 + 4 + n;
    free(s->buf);
    s->buf = calloc(1, len);
    s->buf->ts = 1000000000ULL * (s->emitted + 1); s->buf->tid = (uint64_t)-1; s->buf->len = len;
    s->buf->type = 322; s->buf->nparams = 2;
    uint32_t *lens = (uint32_t *)(s->buf + 1);
    lens[0] = 4; lens[1] = n;
    uint32_t id = 0;                  /* left 0: the host fills in the plugin id */
    memcpy((char *)(lens + 2), &id, 4);
    memcpy((char *)(lens + 2) + 4, text, n);
    s->emitted++;
    one[0] = s->buf; *evts = one; *nevts = 1;
    return 0;
}

#endif

int32_t plugin_extract_fields(void *p, const evt_input_t *ev, const extract_input_t *in) {
    state_t *s = p;
    const uint32_t *lens = (const uint32_t *)(ev->evt + 1);
    const char *data = (const char *)(lens + 2) + lens[0];
    for (uint32_t i = 0; i < in->num_fields; i++) {
        extract_field_t *f = &in->fields[i];
        switch (f->field_id) {
        case 0: s->u64 = strtoull(data + 6, NULL, 10); f->res.u64 = &s->u64; f->res_len = 1; break;
        case 1: s->strs[0] = data; f->res.str = s->strs; f->res_len = 1; break;
        case 2: s->strs[0] = "event"; s->strs[1] = data + 6; f->res.str = s->strs; f->res_len = 2; break;
        case 3: s->ip[0] = 10; s->ip[1] = 1; s->ip[2] = 2; s->ip[3] = 3; s->bb.len = 4; s->bb.ptr = s->ip;
                f->res.buf = &s->bb; f->res_len = 1; break;
        case 4: snprintf(s->err, sizeof s->err, "test.fail always fails"); return 1;
        case 5: s->strs[0] = f->arg_key ? f->arg_key : "(none)"; f->res.str = s->strs; f->res_len = 1; break;
        default: return 1;
        }
    }
    return 0;
}

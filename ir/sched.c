/* sched.c: the field table of schedule records (sched.h) and their text form.
 * The parser (irparse.c) and the verifier (verify.c) reach fields through sched_field, so
 * SCHED_FIELDS is the only list of them. */
#include <stddef.h>
#include <string.h>
#include "sched.h"

const char *const sched_kind_names[SK_COUNT] = {
#define X(e, s) [e] = s,
  SCHED_KINDS(X)
#undef X
};

typedef struct FieldDef {
  SchedKind kind;
  const char *name;
  size_t off;
} FieldDef;

static const FieldDef fields[] = {
#define X(k, f) {k, #f, offsetof(Sched, f)},
  SCHED_FIELDS(X)
#undef X
};
#define NFIELDS ((int)(sizeof fields / sizeof fields[0]))

SchedKind sched_kind_for(Op op) {
  switch (op) {
  case OP_MATMUL: case OP_MATMUL_ADD: case OP_MATMUL_SILU_MUL: case OP_MATMUL_NORM_GATHER:
  case OP_MATMUL_ADD_GATHER: case OP_MATMUL_SCATTER_GATE: return SK_MATMUL;
  case OP_ATTENTION: case OP_KV_ATTENTION: return SK_ATTN;
  case OP_EMBED: case OP_ADD: case OP_BIAS_ADD: case OP_SILU: case OP_SILU_MUL: case OP_RMSNORM:
  case OP_ROPE: return SK_EW;
  default: return SK_NONE;
  }
}

int sched_attn_decode_vw(int64_t hd, int vw) {
  while (vw > 0 && vw < (1 << 20) && (hd + vw - 1) / vw > 16) vw *= 2;
  return vw;
}

int sched_kind_parse(const char *name) {
  for (int k = 1; k < SK_COUNT; k++)
    if (!strcmp(sched_kind_names[k], name)) return k;
  return -1;
}

int sched_field_index(SchedKind k, const char *name) {
  int i = 0;
  for (int f = 0; f < NFIELDS; f++) {
    if (fields[f].kind != k) continue;
    if (!strcmp(fields[f].name, name)) return i;
    i++;
  }
  return -1;
}

int64_t *sched_field(Sched *s, SchedKind k, const char *name) {
  for (int f = 0; f < NFIELDS; f++)
    if (fields[f].kind == k && !strcmp(fields[f].name, name)) return (int64_t *)((char *)s + fields[f].off);
  return NULL;
}

const char *sched_missing(SchedKind k, uint32_t set) {
  int i = 0;
  for (int f = 0; f < NFIELDS; f++) {
    if (fields[f].kind != k) continue;
    if (!(set >> i & 1)) return fields[f].name;
    i++;
  }
  return NULL;
}

int sched_format(const Sched *s, char *buf, size_t n) {
  size_t len = 0;
  if (n) buf[0] = 0;
  if (s->kind <= SK_NONE || s->kind >= SK_COUNT) return 0;
#define PUT(...) do { int w_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__); \
                      if (w_ > 0) len += (size_t)w_; } while (0)
  PUT(" #%s{", sched_kind_names[s->kind]);
  int first = 1;
  for (int f = 0; f < NFIELDS; f++) {
    if (fields[f].kind != s->kind) continue;
    PUT("%s%s = %lld", first ? "" : ", ", fields[f].name, (long long)*(const int64_t *)((const char *)s + fields[f].off));
    first = 0;
  }
  PUT("}");
#undef PUT
  if (n && len >= n) len = n - 1;
  return (int)len;
}

void sched_print(const Sched *s, FILE *out) {
  char buf[512];
  sched_format(s, buf, sizeof buf);
  fputs(buf, out);
}

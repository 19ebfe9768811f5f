/* spec.c: spec_load, the model spec (DESIGN.md section 3) from YAML into a Spec.
 *
 * The file becomes a YTree (ytree.c); each "-D key.path=value" override is parsed as YAML
 * and grafted into the tree (spec_override.c); then one pass over the tree checks every
 * key, type and range and fills the Spec.  A node remembers where it came from, so an
 * error in an overridden value is reported against the flag, not the file.  Only the
 * first error is reported.  spec_field.c holds the typed accessors (key lookup, integer,
 * number, boolean, string and word) that this file is written in.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "spec_field.h"

#define MAX_SPEC_BYTES (16 << 20)
#define MAX_VOCAB (1 << 24)
#define MAX_DIM (1 << 16)
#define MAX_FF (1 << 20)
#define MAX_SEQ (1 << 20)
#define MAX_BATCH (1 << 16)
#define MAX_THREADS (1 << 16)

static const char *const TOP_KEYS[] = {"modc", "name", "weights", "model", "routing",
                                       "compile", NULL};
static const char *const MODEL_KEYS[] = {"vocab_size", "d_model", "n_layers", "n_heads",
                                         "n_kv_heads", "d_ff", "max_seq_len", "norm_eps",
                                         "rope_theta", "tie_embeddings", NULL};
static const char *const ROUTING_KEYS[] = {"layers", "capacity", "gate", "router_bias",
                                           "predictor", "predictor_hidden", "threshold",
                                           "forward", "per_layer", NULL};
static const char *const PER_LAYER_KEYS[] = {"capacity", "threshold", "dense", NULL};
static const char *const COMPILE_KEYS[] = {"shapes", "target", "cpu", "weights_dtype",
                                           "threads", NULL};
static const char *const GATES[] = {"raw", "sigmoid", NULL};
static const char *const PREDICTORS[] = {"router", "mlp", NULL};
static const char *const FORWARD_RULES[] = {"topk", "threshold", NULL};
static const char *const LAYER_WORDS[] = {"every_other", "all", "none", NULL};
static const char *const WDTYPES[] = {"f32", "bf16", NULL};

/* ---- top level ---- */

/* name: [a-z][a-z0-9_]* */
static int check_name(SCtx *c, int node, const char *name) {
  int ok = name[0] >= 'a' && name[0] <= 'z' && strlen(name) < sizeof c->s->name;
  for (const char *p = name; ok && *p; p++)
    ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
  if (ok) return 0;
  char q[128];
  ytree_quote(name, strlen(name), q, sizeof q);
  return sf_fail(c, node, "'name' must match [a-z][a-z0-9_]* (at most %d characters), got '%s'",
                 (int)sizeof c->s->name - 1, q);
}

/* weights: relative to the directory of the spec file */
static int resolve_weights(SCtx *c, int node, const char *w) {
  Spec *s = c->s;
  if (!*w) return sf_fail(c, node, "'weights' must name a file, got ''");
  const char *slash = strrchr(s->path, '/');
  int dir = (w[0] == '/' || !slash) ? 0 : (int)(slash - s->path + 1);
  int n = snprintf(s->weights_path, sizeof s->weights_path, "%.*s%s", dir, s->path, w);
  if (n < 0 || n >= (int)sizeof s->weights_path)
    return sf_fail(c, node, "weights path is too long (%d bytes)", n);
  return 0;
}

static int load_model(SCtx *c, int m);
static int load_routing(SCtx *c, int r);
static int load_compile(SCtx *c, int m);

/* spec: modc name weights model [routing] [compile] */
static int load_top(SCtx *c, int root) {
  int node, version = 0;
  const char *str;
  /* the version first: a newer spec's new keys are not "unknown" to the reader it needs */
  if (sf_int(c, root, "the spec", "modc", 1, INT_MIN, INT_MAX, &version)) return -1;
  if (version != 1)
    return sf_fail(c, sf_at(c, root, "modc"),
                   "unsupported spec format version %d (this modc reads version 1)", version);
  if (sf_check_map(c, root, "the spec", TOP_KEYS)) return -1;
  if (sf_str(c, root, "the spec", "name", 1, &str, &node) || check_name(c, node, str)) return -1;
  snprintf(c->s->name, sizeof c->s->name, "%s", str);
  if (sf_str(c, root, "the spec", "weights", 1, &str, &node) || resolve_weights(c, node, str))
    return -1;
  if (sf_lookup(c, root, "the spec", "model", 1, &node) || load_model(c, node)) return -1;
  if (sf_lookup(c, root, "the spec", "routing", 0, &node) || load_routing(c, node)) return -1;
  if (sf_lookup(c, root, "the spec", "compile", 0, &node) || load_compile(c, node)) return -1;
  return 0;
}

/* ---- model ---- */

static int model_ints(SCtx *c, int m) {
  Spec *s = c->s;
  const char *w = "'model'";
  return sf_int(c, m, w, "vocab_size", 1, 1, MAX_VOCAB, &s->vocab_size) ||
         sf_int(c, m, w, "d_model", 1, 1, MAX_DIM, &s->d_model) ||
         sf_int(c, m, w, "n_layers", 1, 1, SPEC_MAX_LAYERS, &s->n_layers) ||
         sf_int(c, m, w, "n_heads", 1, 1, MAX_DIM, &s->n_heads) ||
         sf_int(c, m, w, "n_kv_heads", 0, 1, MAX_DIM, &s->n_kv_heads) ||
         sf_int(c, m, w, "d_ff", 1, 1, MAX_FF, &s->d_ff) ||
         sf_int(c, m, w, "max_seq_len", 1, 1, MAX_SEQ, &s->max_seq_len);
}

/* heads must split d_model into even head dims, kv heads must split the heads */
static int check_heads(SCtx *c, int m) {
  Spec *s = c->s;
  int h = sf_at(c, m, "n_heads");
  if (s->d_model % s->n_heads)
    return sf_fail(c, h, "n_heads (%d) does not divide d_model (%d)", s->n_heads, s->d_model);
  if ((s->d_model / s->n_heads) % 2)
    return sf_fail(c, h,
                   "head dim d_model/n_heads = %d/%d = %d is odd; RoPE's rotate-half needs "
                   "an even head dim",
                   s->d_model, s->n_heads, s->d_model / s->n_heads);
  int kv = ytree_get(c->t, m, "n_kv_heads", NULL);
  if (kv >= 0 && s->n_heads % s->n_kv_heads)
    return sf_fail(c, kv, "n_kv_heads (%d) does not divide n_heads (%d)", s->n_kv_heads,
                   s->n_heads);
  return 0;
}

/* model: vocab_size d_model n_layers n_heads [n_kv_heads] d_ff max_seq_len norm_eps
 *        rope_theta [tie_embeddings] */
static int load_model(SCtx *c, int m) {
  Spec *s = c->s;
  if (sf_check_map(c, m, "'model'", MODEL_KEYS) || model_ints(c, m)) return -1;
  if (!s->n_kv_heads) s->n_kv_heads = s->n_heads;
  if (check_heads(c, m)) return -1;
  if (sf_positive(c, m, "'model'", "norm_eps", 1, &s->norm_eps) ||
      sf_positive(c, m, "'model'", "rope_theta", 1, &s->rope_theta))
    return -1;
  return sf_bool(c, m, "'model'", "tie_embeddings", 0, &s->tie_embeddings);
}

/* ---- routing ---- */

/* layers: every_other | all | none | [index, ...] */
static int routing_layers(SCtx *c, int node) {
  Spec *s = c->s;
  const YNode *n = &c->t->node[node];
  if (n->kind == YN_SEQ) {
    for (int i = 0; i < n->n; i++) {
      int l, e = n->kid[i];
      if (sf_as_int(c, e, "routing.layers", INT_MIN, INT_MAX, &l)) return -1;
      if (l < 0 || l >= s->n_layers)
        return sf_fail(c, e, "routing layer %d is out of range (n_layers is %d)", l,
                       s->n_layers);
      if (s->routed[l]) return sf_fail(c, e, "layer %d is listed twice in 'routing.layers'", l);
      s->routed[l] = 1;
    }
    return 0;
  }
  int w = 0;
  while (LAYER_WORDS[w] && !(ytree_scalar(c->t, node) == YS_STR &&
                             !strcmp(c->t->node[node].text, LAYER_WORDS[w])))
    w++;
  if (!LAYER_WORDS[w])
    return sf_fail(c, node,
                   "expected every_other, all, none or a list of layer indices for "
                   "'layers', got %s",
                   sf_describe(c, node));
  for (int l = 0; l < s->n_layers; l++) s->routed[l] = w == 0 ? l % 2 == 1 : w == 1;
  return 0;
}

static void routed_list(const Spec *s, char *buf, size_t n) {
  size_t o = 0;
  buf[0] = 0;
  for (int l = 0; l < s->n_layers && o + 16 < n; l++)
    if (s->routed[l]) o += snprintf(buf + o, n - o, "%s%d", o ? ", " : "", l);
  if (!o) snprintf(buf, n, "none");
}

/* per_layer entry key: a routed layer index, given once */
static int per_layer_index(SCtx *c, int key, const int *seen, int *l) {
  Spec *s = c->s;
  char routed[160];
  if (ytree_scalar(c->t, key) != YS_INT)
    return sf_fail(c, key, "per_layer keys must be layer indices, got %s",
                   sf_describe(c, key));
  if (sf_as_int(c, key, "per_layer index", INT_MIN, INT_MAX, l)) return -1;
  if (*l < 0 || *l >= s->n_layers)
    return sf_fail(c, key, "per_layer layer %d is out of range (n_layers is %d)", *l,
                   s->n_layers);
  routed_list(s, routed, sizeof routed);
  if (!s->routed[*l])
    return sf_fail(c, key, "per_layer entry for layer %d, which is not routed (routed layers: %s)",
                   *l, routed);
  if (seen[*l]) return sf_fail(c, key, "two per_layer entries for layer %d", *l);
  return 0;
}

/* dense: true takes the layer out of routing (its routing weights are then ignored) */
static int per_layer_dense(SCtx *c, int v, const char *where, int l) {
  int dense = 0, cap, thr;
  if (sf_bool(c, v, where, "dense", 0, &dense) || !dense) return 0;
  if (sf_lookup(c, v, where, "capacity", 0, &cap) || sf_lookup(c, v, where, "threshold", 0, &thr)) return -1;
  if (cap >= 0 || thr >= 0)
    return sf_fail(c, cap >= 0 ? cap : thr, "%s has dense: true, which takes no %s", where,
                   cap >= 0 ? "capacity" : "threshold");
  Spec *s = c->s;
  s->routed[l] = 0, s->made_dense[l] = 1, s->capacity[l] = 1.0, s->threshold[l] = 0;
  return 0;
}

/* per_layer: {index: {capacity: c, threshold: t} | {dense: true}, ...}; one key at least */
static int routing_per_layer(SCtx *c, int node) {
  int seen[SPEC_MAX_LAYERS] = {0};
  if (sf_check_map(c, node, "'per_layer'", NULL)) return -1;
  const YNode *n = &c->t->node[node];
  for (int i = 0; i + 1 < n->n; i += 2) {
    int l, v = n->kid[i + 1];
    char where[64];
    if (per_layer_index(c, n->kid[i], seen, &l)) return -1;
    snprintf(where, sizeof where, "'routing.per_layer.%d'", l);
    if (sf_check_map(c, v, where, PER_LAYER_KEYS) ||
        sf_capacity(c, v, where, 0, &c->s->capacity[l]) ||
        sf_number(c, v, where, "threshold", 0, &c->s->threshold[l]) || per_layer_dense(c, v, where, l))
      return -1;
    if (c->t->node[v].n == 0)
      return sf_fail(c, v, "%s sets nothing (give capacity, threshold or both)", where);
    seen[l] = 1;
  }
  return 0;
}

static int any_routed(const Spec *s) {
  for (int l = 0; l < s->n_layers; l++)
    if (s->routed[l]) return 1;
  return 0;
}

/* routing: layers capacity gate [router_bias] [predictor] [predictor_hidden] [threshold]
 * [forward] [per_layer] */
static int load_routing(SCtx *c, int r) {
  Spec *s = c->s;
  const char *w = "'routing'";
  int node, need, gate = GATE_RAW, pred = PRED_ROUTER, fwd = FWD_TOPK;
  double cap = 1.0, thr = 0.0;
  if (r < 0) return 0;
  if (sf_check_map(c, r, w, ROUTING_KEYS)) return -1;
  if (sf_lookup(c, r, w, "layers", 1, &node) || routing_layers(c, node)) return -1;
  need = any_routed(s);
  if (sf_capacity(c, r, w, need, &cap) || sf_word(c, r, w, "gate", need, GATES, &gate) ||
      sf_bool(c, r, w, "router_bias", 0, &s->router_bias) ||
      sf_word(c, r, w, "predictor", 0, PREDICTORS, &pred) ||
      sf_int(c, r, w, "predictor_hidden", 0, 1, MAX_DIM, &s->predictor_hidden) ||
      sf_number(c, r, w, "threshold", 0, &thr) || sf_word(c, r, w, "forward", 0, FORWARD_RULES, &fwd))
    return -1;
  s->gate = (GateKind)gate;
  s->predictor = (PredKind)pred;
  s->forward = (FwdRule)fwd;
  for (int l = 0; l < s->n_layers; l++)
    if (s->routed[l]) s->capacity[l] = cap, s->threshold[l] = thr;
  if (sf_lookup(c, r, w, "per_layer", 0, &node)) return -1;
  return node >= 0 ? routing_per_layer(c, node) : 0;
}

/* ---- compile ---- */

/* shape: [batch, seq_len] */
static int compile_shape(SCtx *c, int node, int *shape) {
  const YNode *n = &c->t->node[node];
  Spec *s = c->s;
  if (n->kind != YN_SEQ || n->n != 2)
    return sf_fail(c, node, "each shape must be a [batch, seq_len] pair, got %s",
                   sf_describe(c, node));
  if (sf_as_int(c, n->kid[0], "batch", 1, MAX_BATCH, &shape[0]) ||
      sf_as_int(c, n->kid[1], "seq_len", 1, INT_MAX, &shape[1]))
    return -1;
  if (shape[1] > s->max_seq_len)
    return sf_fail(c, n->kid[1], "seq_len %d of shape [%d, %d] exceeds max_seq_len (%d)",
                   shape[1], shape[0], shape[1], s->max_seq_len);
  for (int i = 0; i < s->n_shapes; i++)
    if (s->shapes[i][0] == shape[0] && s->shapes[i][1] == shape[1])
      return sf_fail(c, node, "shape [%d, %d] is listed twice", shape[0], shape[1]);
  return 0;
}

/* shapes: [[batch, seq_len], ...] */
static int compile_shapes(SCtx *c, int node) {
  const YNode *n = &c->t->node[node];
  Spec *s = c->s;
  if (n->kind != YN_SEQ)
    return sf_fail(c, node, "expected a list of [batch, seq_len] pairs for 'shapes', got %s",
                   sf_describe(c, node));
  if (n->n == 0) return sf_fail(c, node, "'shapes' must list at least one [batch, seq_len]");
  s->n_shapes = 0;
  for (int i = 0; i < n->n; i++) {
    if (i == SPEC_MAX_SHAPES)
      return sf_fail(c, n->kid[i], "too many shapes: at most %d are allowed", SPEC_MAX_SHAPES);
    if (compile_shape(c, n->kid[i], s->shapes[i])) return -1;
    s->n_shapes++;
  }
  return 0;
}

/* "host"/"native" or a name made of [A-Za-z0-9_.-]; a triple also needs a '-'; cpu may be a
 * list of names separated by single commas */
static int check_target_name(SCtx *c, int node, const char *key, const char *v, size_t cap) {
  int ok = *v && strlen(v) < cap, list = !strcmp(key, "cpu");
  for (const char *p = v; ok && *p; p++)
    ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
         *p == '_' || *p == '.' || *p == '-' || (list && *p == ',' && p != v && p[1] && p[1] != ',');
  if (ok && !strcmp(key, "target") && strcmp(v, "host") && !strchr(v, '-')) ok = 0;
  if (ok) return 0;
  char q[128];
  ytree_quote(v, strlen(v), q, sizeof q);
  if (!strcmp(key, "target"))
    return sf_fail(c, node, "'target' must be host or an LLVM triple such as "
                   "aarch64-linux-gnu, got '%s'", q);
  return sf_fail(c, node, "'cpu' must be native, an LLVM CPU name such as znver4, or a list such as "
                 "x86-64-v2,x86-64-v3,x86-64-v4, got '%s'", q);
}

static int compile_names(SCtx *c, int m) {
  Spec *s = c->s;
  const char *v;
  int node;
  if (sf_str(c, m, "'compile'", "target", 0, &v, &node)) return -1;
  if (node >= 0) {
    if (check_target_name(c, node, "target", v, sizeof s->target)) return -1;
    snprintf(s->target, sizeof s->target, "%s", v);
  }
  if (sf_str(c, m, "'compile'", "cpu", 0, &v, &node)) return -1;
  if (node >= 0) {
    if (check_target_name(c, node, "cpu", v, sizeof s->cpu)) return -1;
    snprintf(s->cpu, sizeof s->cpu, "%s", v);
  }
  return 0;
}

/* compile: [shapes] [target] [cpu] [weights_dtype] [threads] */
static int load_compile(SCtx *c, int m) {
  Spec *s = c->s;
  int node, wd = 0;
  s->n_shapes = 1;
  s->shapes[0][0] = 1;
  s->shapes[0][1] = s->max_seq_len < 512 ? s->max_seq_len : 512;
  if (m < 0) return 0;
  if (sf_check_map(c, m, "'compile'", COMPILE_KEYS)) return -1;
  if (sf_lookup(c, m, "'compile'", "shapes", 0, &node) || (node >= 0 && compile_shapes(c, node)))
    return -1;
  if (compile_names(c, m) || sf_word(c, m, "'compile'", "weights_dtype", 0, WDTYPES, &wd) ||
      sf_int(c, m, "'compile'", "threads", 0, 0, MAX_THREADS, &s->threads))
    return -1;
  s->weights_dtype = wd ? DT_BF16 : DT_F32;
  return 0;
}

/* ---- entry ---- */

static void set_defaults(Spec *s) {
  for (int l = 0; l < SPEC_MAX_LAYERS; l++) s->capacity[l] = 1.0;
  s->gate = GATE_RAW;
  s->predictor = PRED_ROUTER;
  s->predictor_hidden = 64;
  snprintf(s->target, sizeof s->target, "host");
  snprintf(s->cpu, sizeof s->cpu, "native");
  s->weights_dtype = DT_F32;
}

/* The whole file into memory (NUL-terminated), or NULL with err filled. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: error: cannot open spec: %m", path);
    return NULL;
  }
  size_t cap = 0;
  char *buf = NULL;
  *len = 0;
  do {
    if (*len == cap && cap <= MAX_SPEC_BYTES) {
      cap = cap ? 2 * cap : 1 << 14;
      char *nb = realloc(buf, cap + 1);
      if (!nb) break;
      buf = nb;
    }
    *len += fread(buf + *len, 1, cap - *len, f);
  } while (*len == cap && cap <= MAX_SPEC_BYTES && !ferror(f));
  int bad = !buf || ferror(f) || *len > MAX_SPEC_BYTES;
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "%s: error: cannot read spec (unreadable or over %d MiB)", path,
             MAX_SPEC_BYTES >> 20);
    free(buf);
    return NULL;
  }
  buf[*len] = 0;
  return buf;
}

static int load_tree(SCtx *c, const char *buf, size_t len, const char *const *ov, int nov) {
  int root;
  if (ytree_load(c->t, buf, len, NULL, &root, c->err, c->errlen)) return -1;
  if (root < 0) {
    snprintf(c->err, c->errlen, "%s:1:1: error: the spec is empty; expected a mapping with "
             "the keys modc, name, weights and model", c->t->file);
    return -1;
  }
  if (c->t->node[root].kind != YN_MAP)
    return sf_fail(c, root, "expected a mapping at the top level of the spec, got %s",
                   sf_describe(c, root));
  for (int i = 0; i < nov; i++)
    if (spec_override(c, root, ov[i])) return -1;
  return load_top(c, root);
}

int spec_load(const char *path, const char *const *overrides, int n_overrides, Spec *out,
              char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (snprintf(out->path, sizeof out->path, "%s", path) >= (int)sizeof out->path) {
    snprintf(err, errlen, "%s: error: path is too long", path);
    return -1;
  }
  set_defaults(out);
  size_t len;
  char *buf = read_file(path, &len, err, errlen);
  if (!buf) return -1;
  YTree t;
  ytree_init(&t, out->path);
  SCtx c = {.t = &t, .s = out, .err = err, .errlen = errlen};
  int rc = load_tree(&c, buf, len, overrides, n_overrides);
  ytree_free(&t);
  free(buf);
  return rc;
}

int spec_capacity_k(double capacity, int T) {
  if (T < 1) return 0;
  double k = ceil(capacity * (double)T - 1e-9);
  if (!(k >= 1)) return 1; /* also NaN */
  return k > T ? T : (int)k;
}

int spec_head_dim(const Spec *s) { return s->n_heads ? s->d_model / s->n_heads : 0; }

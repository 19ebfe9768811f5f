/* llama_logits.c: the logits llama.cpp computes for given token ids, to check that
 * bench/gguf_convert.py's GGUF computes modc's function (bench/run.sh's llama.cpp peer).
 * Built by bench/llama_peer.sh against the llama.cpp it builds; not part of modc's build.
 *
 *   llama-logits MODEL.gguf TOKENS OUT.logits [THREADS]
 *
 * TOKENS is whitespace-separated token ids (modc bench --dump's PREFIX.tokens); all of them
 * go through llama_decode as one causal sequence, and OUT gets every position's logits,
 * [n][vocab] f32 in native byte order: the layout of modc bench's PREFIX.logits.
 */
#include <stdio.h>
#include <stdlib.h>
#include "llama.h"

#define MAX_TOKENS 8192

static int read_tokens(const char *path, llama_token *t) {
  FILE *f = fopen(path, "r");
  int n = 0;
  if (!f) return -1;
  while (n < MAX_TOKENS && fscanf(f, "%d", &t[n]) == 1) n++;
  fclose(f);
  return n;
}

static struct llama_context *open_ctx(struct llama_model *m, int n, int threads) {
  struct llama_context_params cp = llama_context_default_params();
  cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)n;
  cp.n_threads = cp.n_threads_batch = threads;
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  return llama_init_from_model(m, cp);
}

/* one batch of n tokens of sequence 0, logits for every position */
static int run(struct llama_context *ctx, const llama_token *t, int n) {
  struct llama_batch b = llama_batch_init(n, 0, 1);
  for (int i = 0; i < n; i++) {
    b.token[i] = t[i], b.pos[i] = i, b.n_seq_id[i] = 1, b.seq_id[i][0] = 0, b.logits[i] = 1;
  }
  b.n_tokens = n;
  int rc = llama_decode(ctx, b);
  llama_batch_free(b);
  return rc;
}

static int write_logits(const char *path, struct llama_context *ctx, int n, int V) {
  FILE *f = fopen(path, "wb");
  if (!f) return 1;
  int bad = 0;
  for (int i = 0; i < n && !bad; i++) bad = fwrite(llama_get_logits_ith(ctx, i), sizeof(float), V, f) != (size_t)V;
  return fclose(f) || bad;
}

int main(int argc, char **argv) {
  static llama_token tok[MAX_TOKENS];
  if (argc < 4) return fputs("usage: llama-logits MODEL.gguf TOKENS OUT.logits [THREADS]\n", stderr), 2;
  int n = read_tokens(argv[2], tok), threads = argc > 4 ? atoi(argv[4]) : 2;
  if (n < 1) return fprintf(stderr, "llama-logits: no tokens in '%s'\n", argv[2]), 1;
  llama_backend_init();
  struct llama_model *m = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (!m) return fprintf(stderr, "llama-logits: cannot load '%s'\n", argv[1]), 1;
  struct llama_context *ctx = open_ctx(m, n, threads);
  int V = llama_vocab_n_tokens(llama_model_get_vocab(m)), rc = 1;
  if (!ctx) fprintf(stderr, "llama-logits: no context\n");
  else if (run(ctx, tok, n)) fprintf(stderr, "llama-logits: llama_decode failed\n");
  else if (write_logits(argv[3], ctx, n, V)) fprintf(stderr, "llama-logits: cannot write '%s'\n", argv[3]);
  else rc = 0, fprintf(stderr, "llama-logits: %d tokens, vocab %d -> %s\n", n, V, argv[3]);
  if (ctx) llama_free(ctx);
  llama_model_free(m);
  return rc;
}

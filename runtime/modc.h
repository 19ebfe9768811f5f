/* modc.h: the library ABI, version 1 (DESIGN.md section 6).
 *
 * Every library modc emits exports these symbols, so one binding serves every model.  The
 * generated <name>.h includes this declaration set plus the model's constants.  All int
 * functions return 0 (or a count, where stated) on success and a negative code on error;
 * modc_last_error() gives a thread-local message describing the last error.
 * A call runs on the calling thread and the model's worker threads; each needs about 256 KiB
 * of stack (kernels keep packed rows and attention tiles there; glibc's default thread stack
 * is 8 MiB).
 */
#ifndef MODC_H
#define MODC_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MODC_ABI_VERSION 1

enum {
  MODC_OK = 0,
  MODC_ERR_ARG = -1,        /* a bad argument: NULL, out-of-range token, shape not compiled */
  MODC_ERR_IO = -2,         /* weights file missing, unreadable, truncated */
  MODC_ERR_MISMATCH = -3,   /* weights file of another model */
  MODC_ERR_CPU = -4,        /* this CPU lacks features the library was built for */
  MODC_ERR_NOMEM = -5,
  MODC_ERR_FULL = -6        /* session past max_seq_len */
};

typedef struct modc_model modc_model;
typedef struct modc_session modc_session;

typedef struct {
  int32_t vocab_size, d_model, n_layers, max_seq_len;
  int32_t n_shapes;
  const int32_t (*shapes)[2];   /* (batch, seq_len) of modc_forward */
  const float *capacity;        /* per layer, 1.0 for dense layers */
  const char *name, *target_triple, *target_cpu;
  int32_t forward_threshold;    /* 1: modc_forward routes each token by p > threshold, as sessions
                                   do (routing.forward: threshold), not by capacity */
} modc_info;

int modc_open(const char *weights_path, int n_threads, modc_model **out);
void modc_close(modc_model *m);
const modc_info *modc_get_info(const modc_model *m);
const char *modc_last_error(void);
int modc_forward(modc_model *m, int batch, int seq_len, const int32_t *tokens, float *logits);
int modc_session_open(modc_model *m, modc_session **out);
int modc_prefill(modc_session *s, const int32_t *tokens, int n, float *last_logits);
int modc_decode(modc_session *s, int32_t token, float *logits);
int modc_session_reset(modc_session *s);
void modc_session_close(modc_session *s);
int modc_routing(const modc_session *s, int layer, uint8_t *taken, int n);

#ifdef __cplusplus
}
#endif
#endif

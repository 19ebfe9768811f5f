/* fake_model.h: the constants of the hand-written "generated part" that the runtime tests
 * link the runtime with (fake_model.c), shared with the test driver (test_runtime.c).
 *
 * The fake model: vocab 256, 3 layers of which layer 1 is routed, max_seq_len 16, forward
 * shapes (1,4) and (2,8).  Its weights blob is FAKE_BLOB_FLOATS floats, all 1.0.
 *   forward:  logits[t][(tok+1) % 256] = w[0] + pos[t], every other logit 0.
 *   session:  every token enters the dense layers' caches; in layer 1 only even tokens take
 *             the block (route trace 1, cache row appended); last-row logits are
 *             [(tok+1) % 256] = w[0] + kv_len[1], every other logit 0.
 * So greedy generation from "abc" continues "defg...".
 */
#ifndef FAKE_MODEL_H
#define FAKE_MODEL_H

#define FAKE_VOCAB 256
#define FAKE_LAYERS 3
#define FAKE_ROUTED_LAYER 1
#define FAKE_MAX_SEQ 16
#define FAKE_KV_DIM 4              /* n_kv_heads 1 * head_dim 4 */
#define FAKE_BLOB_FLOATS 64
#define FAKE_BLOB_SIZE (FAKE_BLOB_FLOATS * 4)
#define FAKE_HASH 0x0123456789abcdefULL
#define FAKE_WEIGHTS_FILE "fake_model.weights"

#endif

/* plot.c: plot_png (plot.h), a scatter plot rasterised into an RGB buffer and written as a
 * PNG: signature, IHDR, one zlib-compressed IDAT of unfiltered rows, IEND.  Text uses a 5x7
 * bitmap font of the characters the labels need (lower case; upper case prints as lower). */
#include "tools/plot.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define W 760
#define H 500
#define LEFT 78
#define RIGHT 24
#define TOP 44
#define BOTTOM 60

typedef struct Canvas {
  uint8_t px[H][W][3];
  double x0, x1, y0, y1;    /* data range on the axes */
} Canvas;

typedef struct Rgb {
  uint8_t r, g, b;
} Rgb;

static const Rgb BLACK = {0, 0, 0}, GRAY = {150, 150, 150}, LIGHT = {225, 225, 225}, BLUE = {31, 94, 190},
                 GREEN = {20, 140, 60}, RED = {200, 40, 40};

/* ---- font: 7 rows of 5 bits per glyph ---- */

static const char GLYPHS[] = "0123456789.-+()/:,=%abcdefghijklmnopqrstuvwxyz_";
static const uint8_t FONT[][7] = {
  {14, 17, 19, 21, 25, 17, 14}, {4, 12, 4, 4, 4, 4, 14},    {14, 17, 1, 2, 4, 8, 31},
  {31, 2, 4, 2, 1, 17, 14},     {2, 6, 10, 18, 31, 2, 2},   {31, 16, 30, 1, 1, 17, 14},
  {6, 8, 16, 30, 17, 17, 14},   {31, 1, 2, 4, 8, 8, 8},     {14, 17, 17, 14, 17, 17, 14},
  {14, 17, 17, 15, 1, 2, 12},   {0, 0, 0, 0, 0, 12, 12},    {0, 0, 0, 31, 0, 0, 0},
  {0, 4, 4, 31, 4, 4, 0},       {2, 4, 8, 8, 8, 4, 2},      {8, 4, 2, 2, 2, 4, 8},
  {0, 1, 2, 4, 8, 16, 0},       {0, 12, 12, 0, 12, 12, 0},  {0, 0, 0, 0, 12, 4, 8},
  {0, 0, 31, 0, 31, 0, 0},      {24, 25, 2, 4, 8, 19, 3},   {0, 0, 14, 1, 15, 17, 15},
  {16, 16, 22, 25, 17, 17, 30}, {0, 0, 14, 16, 16, 17, 14}, {1, 1, 13, 19, 17, 17, 15},
  {0, 0, 14, 17, 31, 16, 14},   {6, 9, 8, 28, 8, 8, 8},     {0, 15, 17, 17, 15, 1, 14},
  {16, 16, 22, 25, 17, 17, 17}, {4, 0, 12, 4, 4, 4, 14},    {2, 0, 6, 2, 2, 18, 12},
  {16, 16, 18, 20, 24, 20, 18}, {12, 4, 4, 4, 4, 4, 14},    {0, 0, 26, 21, 21, 17, 17},
  {0, 0, 22, 25, 17, 17, 17},   {0, 0, 14, 17, 17, 17, 14}, {0, 0, 30, 17, 30, 16, 16},
  {0, 0, 13, 19, 15, 1, 1},     {0, 0, 22, 25, 16, 16, 16}, {0, 0, 14, 16, 14, 1, 30},
  {8, 8, 28, 8, 8, 9, 6},       {0, 0, 17, 17, 17, 19, 13}, {0, 0, 17, 17, 17, 10, 4},
  {0, 0, 17, 17, 21, 21, 10},   {0, 0, 17, 10, 4, 10, 17},  {0, 0, 17, 17, 15, 1, 14},
  {0, 0, 31, 2, 4, 8, 31},      {0, 0, 0, 0, 0, 0, 31},
};

static void put(Canvas *c, int x, int y, Rgb k) {
  if (x < 0 || y < 0 || x >= W || y >= H) return;
  c->px[y][x][0] = k.r, c->px[y][x][1] = k.g, c->px[y][x][2] = k.b;
}

/* text with its top-left corner at (x, y); returns its width */
static int text(Canvas *c, int x, int y, const char *s, Rgb k) {
  int x0 = x;
  for (; *s; s++, x += 6) {
    char ch = (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
    const char *g = ch ? strchr(GLYPHS, ch) : NULL;
    if (!g) continue; /* space and anything unknown: a blank cell */
    for (int r = 0; r < 7; r++)
      for (int b = 0; b < 5; b++)
        if (FONT[g - GLYPHS][r] >> (4 - b) & 1) put(c, x + b, y + r, k);
  }
  return x - x0;
}

/* ---- shapes ---- */

static void line(Canvas *c, int x0, int y0, int x1, int y1, Rgb k, int dash) {
  int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
  for (int i = 0;; i++) {
    if (!dash || (i / dash) % 2 == 0) put(c, x0, y0, k);
    if (x0 == x1 && y0 == y1) return;
    int e2 = 2 * e;
    if (e2 >= dy) e += dy, x0 += sx;
    if (e2 <= dx) e += dx, y0 += sy;
  }
}

static void disc(Canvas *c, int x, int y, int r, Rgb k, int ring) {
  for (int j = -r; j <= r; j++)
    for (int i = -r; i <= r; i++) {
      int d = i * i + j * j;
      if (d <= r * r && (!ring || d >= (r - 1) * (r - 1))) put(c, x + i, y + j, k);
    }
}

static void square(Canvas *c, int x, int y, int r, Rgb k) {
  for (int j = -r; j <= r; j++)
    for (int i = -r; i <= r; i++) put(c, x + i, y + j, k);
}

static void diamond(Canvas *c, int x, int y, int r, Rgb k) {
  for (int j = -r; j <= r; j++)
    for (int i = -r; i <= r; i++)
      if (abs(i) + abs(j) <= r) put(c, x + i, y + j, k);
}

static void mark(Canvas *c, int x, int y, PlotMark m) {
  switch (m) {
  case MARK_DOT: disc(c, x, y, 3, GRAY, 0); break;
  case MARK_FRONTIER: disc(c, x, y, 4, BLUE, 0); break;
  case MARK_SPEC: square(c, x, y, 4, GREEN); break;
  case MARK_TWIN: diamond(c, x, y, 6, RED); break;
  case MARK_CHOSEN: disc(c, x, y, 8, BLACK, 1), disc(c, x, y, 7, BLACK, 1); break;
  }
}

/* ---- axes ---- */

static int px_x(const Canvas *c, double x) { return LEFT + (int)lround((x - c->x0) / (c->x1 - c->x0) * (W - LEFT - RIGHT)); }
static int px_y(const Canvas *c, double y) { return H - BOTTOM - (int)lround((y - c->y0) / (c->y1 - c->y0) * (H - TOP - BOTTOM)); }

/* a round tick step giving about 5 ticks over span */
static double tick_step(double span) {
  double s = pow(10, floor(log10(span / 5))), m = span / 5 / s;
  return s * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void range(const Plot *p, int ax, double *lo, double *hi) {
  *lo = INFINITY, *hi = -INFINITY;
  for (int i = 0; i < p->n; i++) {
    double v = ax ? p->pt[i].y : p->pt[i].x;
    if (isfinite(v)) *lo = fmin(*lo, v), *hi = fmax(*hi, v);
  }
  if (!ax && isfinite(p->vline)) *lo = fmin(*lo, p->vline), *hi = fmax(*hi, p->vline);
  if (!isfinite(*lo)) *lo = 0, *hi = 1;
  double pad = (*hi - *lo) * 0.08;
  if (pad <= 0) pad = fabs(*hi) * 0.05 + 1e-3;
  *lo -= pad, *hi += pad;
}

static void axes(Canvas *c, const Plot *p) {
  char buf[32];
  int xb = H - BOTTOM, xr = W - RIGHT;
  double sx = tick_step(c->x1 - c->x0), sy = tick_step(c->y1 - c->y0);
  for (double v = ceil(c->x0 / sx) * sx; v <= c->x1; v += sx) {
    int x = px_x(c, v);
    line(c, x, TOP, x, xb, LIGHT, 0);
    snprintf(buf, sizeof buf, "%.4g", fabs(v) < sx * 1e-6 ? 0.0 : v);
    text(c, x - 3 * (int)strlen(buf), xb + 8, buf, BLACK);
  }
  for (double v = ceil(c->y0 / sy) * sy; v <= c->y1; v += sy) {
    int y = px_y(c, v);
    line(c, LEFT, y, xr, y, LIGHT, 0);
    snprintf(buf, sizeof buf, "%.4g", fabs(v) < sy * 1e-6 ? 0.0 : v);
    text(c, LEFT - 8 - 6 * (int)strlen(buf), y - 3, buf, BLACK);
  }
  line(c, LEFT, xb, xr, xb, BLACK, 0);
  line(c, LEFT, TOP, LEFT, xb, BLACK, 0);
  text(c, (W - 6 * (int)strlen(p->xlabel)) / 2, H - 24, p->xlabel, BLACK);
  text(c, 8, TOP - 16, p->ylabel, BLACK);
  text(c, (W - 6 * (int)strlen(p->title)) / 2, 10, p->title, BLACK);
}

static void legend(Canvas *c, const Plot *p) {
  static const struct { PlotMark m; const char *s; } items[] = {
    {MARK_DOT, "configuration"}, {MARK_FRONTIER, "frontier"}, {MARK_SPEC, "spec as given"},
    {MARK_TWIN, "dense twin"}, {MARK_CHOSEN, "chosen (best nll within budget)"}};
  int y = TOP + 10, x = W - RIGHT - 220;
  for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
    int shown = 0;
    for (int k = 0; k < p->n; k++) shown |= p->pt[k].mark == items[i].m;
    if (!shown) continue;
    mark(c, x, y + 3, items[i].m);
    text(c, x + 14, y, items[i].s, BLACK);
    y += 16;
  }
  if (!isfinite(p->vline)) return;
  line(c, x - 6, y + 3, x + 6, y + 3, RED, 3);
  text(c, x + 14, y, "budget", BLACK);
}

static int cmp_x(const void *a, const void *b) {
  double x = ((const PlotPoint *)a)->x, y = ((const PlotPoint *)b)->x;
  return (x > y) - (x < y);
}

static void draw(Canvas *c, const Plot *p) {
  memset(c->px, 255, sizeof c->px);
  range(p, 0, &c->x0, &c->x1);
  range(p, 1, &c->y0, &c->y1);
  axes(c, p);
  if (isfinite(p->vline)) line(c, px_x(c, p->vline), TOP, px_x(c, p->vline), H - BOTTOM, RED, 4);
  PlotPoint *f = malloc((size_t)(p->n ? p->n : 1) * sizeof *f);
  int nf = 0;
  for (int i = 0; i < p->n; i++)
    if (p->pt[i].frontier) f[nf++] = p->pt[i];
  qsort(f, nf, sizeof *f, cmp_x);
  for (int i = 1; f && i < nf; i++) line(c, px_x(c, f[i - 1].x), px_y(c, f[i - 1].y), px_x(c, f[i].x), px_y(c, f[i].y), BLUE, 0);
  free(f);
  for (int pass = 0; pass < 2; pass++) /* plain dots under the marked points */
    for (int i = 0; i < p->n; i++) {
      const PlotPoint *q = &p->pt[i];
      if (!isfinite(q->x) || !isfinite(q->y) || (q->mark == MARK_DOT) != (pass == 0)) continue;
      if (q->mark == MARK_CHOSEN) mark(c, px_x(c, q->x), px_y(c, q->y), MARK_FRONTIER);
      mark(c, px_x(c, q->x), px_y(c, q->y), q->mark);
    }
  legend(c, p);
}

/* ---- PNG ---- */

static void be32(uint8_t *b, uint32_t v) { b[0] = v >> 24, b[1] = v >> 16, b[2] = v >> 8, b[3] = (uint8_t)v; }

static int chunk(FILE *f, const char *type, const uint8_t *data, uint32_t n) {
  uint8_t len[4], crc[4];
  be32(len, n);
  uLong k = crc32(0, (const Bytef *)type, 4);
  if (n) k = crc32(k, data, n);
  be32(crc, (uint32_t)k);
  return fwrite(len, 1, 4, f) != 4 || fwrite(type, 1, 4, f) != 4 || (n && fwrite(data, 1, n, f) != n) ||
         fwrite(crc, 1, 4, f) != 4;
}

static int write_png(const Canvas *c, FILE *f) {
  static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  uint8_t ihdr[13] = {0};
  be32(ihdr, W), be32(ihdr + 4, H);
  ihdr[8] = 8, ihdr[9] = 2; /* 8 bits, RGB; deflate, no filter method, no interlace */
  size_t raw_n = (size_t)H * (1 + W * 3);
  uLongf z_n = compressBound(raw_n);
  uint8_t *raw = malloc(raw_n), *z = malloc(z_n);
  int rc = !raw || !z;
  for (int y = 0; !rc && y < H; y++) {
    raw[y * (1 + W * 3)] = 0;
    memcpy(raw + y * (1 + W * 3) + 1, c->px[y], W * 3);
  }
  if (!rc) rc = compress2(z, &z_n, raw, raw_n, 9) != Z_OK;
  if (!rc) rc = fwrite(sig, 1, 8, f) != 8 || chunk(f, "IHDR", ihdr, 13) || chunk(f, "IDAT", z, (uint32_t)z_n) ||
                chunk(f, "IEND", NULL, 0);
  free(raw), free(z);
  return rc;
}

int plot_png(const Plot *p, const char *path, char *err, int errlen) {
  Canvas *c = malloc(sizeof *c);
  if (!c) return snprintf(err, errlen, "out of memory for the plot"), -1;
  draw(c, p);
  FILE *f = fopen(path, "wb");
  int rc = f ? write_png(c, f) : -1;
  if (f && fclose(f)) rc = -1;
  if (rc) snprintf(err, errlen, "cannot write '%s': %s", path, errno ? strerror(errno) : "write failed");
  free(c);
  return rc;
}

/* plot.h: a small scatter plot written as PNG (tools/plot.c), for tune --routing's
 * frontier.png: points, a polyline through the frontier, marked points with a label, a
 * vertical budget line, axis ticks and titles in a built-in 5x7 font.  zlib compresses
 * the image; nothing else is needed. */
#ifndef MODC_PLOT_H
#define MODC_PLOT_H

typedef enum { MARK_DOT, MARK_FRONTIER, MARK_SPEC, MARK_TWIN, MARK_CHOSEN } PlotMark;

typedef struct PlotPoint {
  double x, y;
  PlotMark mark;
  int frontier;             /* joined by the frontier's polyline */
} PlotPoint;

typedef struct Plot {
  const char *title, *xlabel, *ylabel;
  const PlotPoint *pt;
  int n;
  double vline;             /* x of a dashed vertical line (the budget); NAN: none */
} Plot;

/* Write the plot to path.  Returns 0, or -1 with err filled. */
int plot_png(const Plot *p, const char *path, char *err, int errlen);

#endif

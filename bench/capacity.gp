# capacity.gp: time per token against routed-layer capacity (bench/run.sh -> capacity.png).
# usage: gnuplot -e "dat='capacity.dat'; out='capacity.png'" capacity.gp
# Columns of dat (bench/report.py): capacity, forward ms/token, decode ms/step with the random
# router, decode at take rate = capacity (fit), decode with the calibrated router, dense
# forward ms/token, dense decode ms/step.
set terminal pngcairo size 1200,500 font ",10"
set output out
set multiplot layout 1,2 title "mod12 (every other layer routed) against its dense twin"
set logscale x 2
set xrange [0.1:1.15]
set xtics ("0.125" 0.125, "0.25" 0.25, "0.5" 0.5, "1" 1)
set xlabel "capacity of the routed layers"
set key below height 1
set grid
set yrange [0:*]
set title "modc\\_forward (T = 512, top-k routing)"
set ylabel "ms per token"
plot dat using 1:2 with linespoints lw 2 pt 7 title "MoD forward", \
     dat using 1:6 with lines lw 2 dt 2 lc rgb "black" title "dense forward"
set title "decode step (modc\\_decode)"
set ylabel "ms per step"
plot dat using 1:5 with linespoints lw 2 pt 7 title "MoD, calibrated router (take rate about capacity)", \
     dat using 1:4 with linespoints lw 1 pt 6 title "MoD, at take rate = capacity (fit, estimate)", \
     dat using 1:3 with linespoints lw 1 pt 4 title "MoD, random router (take rate about 0.5)", \
     dat using 1:7 with lines lw 2 dt 2 lc rgb "black" title "dense decode"
unset multiplot

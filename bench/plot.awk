# plot.awk: bench/results/bench.csv -> an SVG of round trips per second
# against concurrent clients (1, 10, 100, 1000; log scale) for each server
# that ran the rr tests. No plotting package needed: the SVG is written by
# hand. Usage: awk -F, -f bench/plot.awk bench/results/bench.csv > rps.svg

function x_of(c) { return L + (log(c) / log(10)) * (W - L - R) / 3 }
function y_of(v) { return H - B - v / ymax * (H - T - B) }
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }

BEGIN {
	W = 760; H = 440; L = 80; R = 180; T = 50; B = 60
	split("refserver tcpserver3 multi socat", names, " ")
	split("#555555 #1f77b4 #d62728 #2ca02c", colors, " ")
	split("6,4 none none 2,3", dashes, " ")
}

# test,server,clients,bytes,runs,failed_runs,rps,...
NR > 1 && ($1 == "lat" || $1 ~ /^rr[0-9]+$/) && $6 < $5 {
	c = $1 == "lat" ? 1 : substr($1, 3) + 0
	v[$2, c] = $7
	seen[$2] = 1
	if ($7 + 0 > ymax) ymax = $7 + 0
}

END {
	# A round top for the y axis: 1, 2 or 5 times a power of ten.
	if (ymax <= 0) ymax = 1
	p = 10 ^ int(log(ymax) / log(10))
	ymax = ymax <= 2 * p ? 2 * p : ymax <= 5 * p ? 5 * p : 10 * p
	step = ymax / 5

	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
		"font-family=\"sans-serif\" font-size=\"13\">\n", W, H
	printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
	printf "<text x=\"%d\" y=\"28\" font-size=\"16\" text-anchor=\"middle\">" \
		"Echo round trips per second (64 bytes) against concurrent clients</text>\n", (W - R + L) / 2

	for (i = 0; i <= 5; i++) {
		y = y_of(i * step)
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, W - R, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", L - 8, y + 4, i * step
	}
	for (c = 1; c <= 1000; c *= 10) {
		x = x_of(c)
		printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, T, x, H - B
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>\n", x, H - B + 20, c
	}
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">concurrent clients (log scale)</text>\n",
		(W - R + L) / 2, H - 15
	printf "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">" \
		"round trips / s</text>\n", (H - B + T) / 2

	row = 0
	for (i = 1; i <= 4; i++) {
		n = names[i]
		if (!(n in seen)) continue
		pts = ""
		for (c = 1; c <= 1000; c *= 10)
			if ((n, c) in v) {
				pts = pts sprintf("%.1f,%.1f ", x_of(c), y_of(v[n, c]))
				printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"/>\n",
					x_of(c), y_of(v[n, c]), colors[i]
			}
		printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
			pts, colors[i], dashes[i] == "none" ? "" : " stroke-dasharray=\"" dashes[i] "\""
		y = T + 20 + 24 * row++
		printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
			W - R + 15, y, W - R + 45, y, colors[i],
			dashes[i] == "none" ? "" : " stroke-dasharray=\"" dashes[i] "\""
		printf "<text x=\"%d\" y=\"%d\">%s</text>\n", W - R + 52, y + 4,
			esc(n == "refserver" ? "refserver (poll)" : n == "tcpserver3" ? "tcpserver3 (select)" : \
				n == "multi" ? "multi (fork)" : n)
	}
	print "</svg>"
}

# plot.awk: a line chart as an SVG, written by hand (no plotting package).
# bench/run writes one data file per chart under bench/results/ and calls
#   awk -F'|' -v title=T -v xlabel=X -v ylabel=Y [-v logx=1] [-v logy=1] \
#       [-v xticks="1 10 100"] [-v dots=0] [-v steps=1] -f bench/plot.awk DATA > CHART.svg
# DATA: one line per series, in legend order, then one line per point:
#   S|NAME|COLOR|DASH      (DASH: none, or an SVG dash pattern such as 6 4)
#   P|NAME|X|Y             (points are joined in the order given)
# Axes: logarithmic with -v logx=1 / logy=1 (ticks at 1, 2, 5 times powers
# of ten, values must be > 0), else linear from 0 to a round top. steps=1
# draws a staircase from 0 (a cumulative distribution) instead of lines.

function fx(v) { return logx ? log(v) / log(10) : v }
function fy(v) { return logy ? log(v) / log(10) : v }
function x_of(v) { return L + (fx(v) - fx(xmin)) / (fx(xmax) - fx(xmin)) * (W - L - R) }
function y_of(v) { return H - B - (fy(v) - fy(ymin)) / (fy(ymax) - fy(ymin)) * (H - T - B) }
function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); return s }
# A round value at or above v: 1, 2 or 5 times a power of ten.
function round_up(v,   p) {
	if (v <= 0) return 1
	p = 10 ^ int(log(v) / log(10))
	if (p > v) p /= 10
	return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p
}
function pow10_down(v,   p) { p = 10 ^ int(log(v) / log(10)); return p > v ? p / 10 : p }
function label(v) {
	if (v >= 1e6 && v % 1e6 == 0) return (v / 1e6) "M"
	if (v >= 1e4 && v % 1e3 == 0) return (v / 1e3) "k"
	return v >= 1 ? sprintf("%d", v) : sprintf("%g", v)
}
# Ticks between lo and hi: decades (and 2, 5 between) on a log axis, five
# steps on a linear one.
function ticks(lo, hi, islog, out,   n, p, m, k) {
	n = 0
	if (islog) {
		for (p = pow10_down(lo); p <= hi * 1.0001; p *= 10)
			for (k = 1; k <= 3; k++) {
				m = p * (k == 1 ? 1 : k == 2 ? 2 : 5)
				if (m >= lo * 0.9999 && m <= hi * 1.0001 && (k == 1 || hi / lo <= 1000)) out[++n] = m
			}
	} else
		for (k = 0; k <= 5; k++) out[++n] = lo + (hi - lo) * k / 5
	return n
}

BEGIN { W = 820; H = 460; L = 80; R = 250; T = 50; B = 60; ns = 0; np = 0 }
$1 == "S" { name[++ns] = $2; color[ns] = $3; dash[ns] = $4 }
$1 == "P" && (!logx || $3 > 0) && (!logy || $4 > 0) {
	np++; px[np] = $3 + 0; py[np] = $4 + 0; pn[np] = $2
	if (np == 1 || px[np] < dxmin) dxmin = px[np]
	if (np == 1 || px[np] > dxmax) dxmax = px[np]
	if (np == 1 || py[np] < dymin) dymin = py[np]
	if (np == 1 || py[np] > dymax) dymax = py[np]
}

END {
	if (np == 0) { dxmin = dymin = 1; dxmax = dymax = 10 }
	nxt = split(xticks, xt, " ")
	if (nxt > 0) { xmin = xt[1]; xmax = xt[nxt] }
	else if (logx) { xmin = pow10_down(dxmin); xmax = round_up(dxmax) }
	else { xmin = 0; xmax = round_up(dxmax) }
	if (xmax <= xmin) xmax = xmin + 1
	if (logy) { ymin = pow10_down(dymin); ymax = round_up(dymax) }
	else { ymin = 0; ymax = round_up(dymax) }
	if (ymax <= ymin) ymax = ymin + 1
	if (nxt == 0) nxt = ticks(xmin, xmax, logx, xt)
	nyt = ticks(ymin, ymax, logy, yt)

	printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" " \
		"font-family=\"sans-serif\" font-size=\"13\">\n", W, H
	printf "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H
	printf "<text x=\"%d\" y=\"28\" font-size=\"15\" text-anchor=\"middle\">%s</text>\n",
		(W - R + L) / 2, esc(title)
	for (i = 1; i <= nyt; i++) {
		y = y_of(yt[i])
		printf "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L, y, W - R, y
		printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 8, y + 4, label(yt[i])
	}
	for (i = 1; i <= nxt; i++) {
		x = x_of(xt[i])
		printf "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, T, x, H - B
		printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x, H - B + 20, label(xt[i])
	}
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, H - B, W - R, H - B
	printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", L, T, L, H - B
	printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (W - R + L) / 2, H - 15,
		esc(xlabel (logx ? " (log scale)" : ""))
	printf "<text transform=\"translate(20,%d) rotate(-90)\" text-anchor=\"middle\">%s</text>\n",
		(H - B + T) / 2, esc(ylabel (logy ? " (log scale)" : ""))

	for (s = 1; s <= ns; s++) {
		pts = ""
		dp = dash[s] == "none" || dash[s] == "" ? "" : " stroke-dasharray=\"" dash[s] "\""
		first = 1
		for (i = 1; i <= np; i++) {
			if (pn[i] != name[s]) continue
			if (steps == "1")
				pts = pts sprintf("%.1f,%.1f ", x_of(px[i]), first ? H - B : y_of(prev))
			pts = pts sprintf("%.1f,%.1f ", x_of(px[i]), y_of(py[i]))
			first = 0; prev = py[i]
			if (dots != "0")
				printf "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
					x_of(px[i]), y_of(py[i]), color[s]
		}
		if (pts != "")
			printf "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\"%s/>\n",
				pts, color[s], dp
		y = T + 12 + 22 * (s - 1)
		printf "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2.2\"%s/>\n",
			W - R + 12, y, W - R + 42, y, color[s], dp
		printf "<text x=\"%d\" y=\"%d\">%s%s</text>\n", W - R + 48, y + 4, esc(name[s]),
			pts == "" ? " (no data)" : ""
	}
	print "</svg>"
}

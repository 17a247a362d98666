package main

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"time"
)

// The picture: for each case, the peer's probes of one representative run (the median one) on a
// time line that starts when ADD returned. Green where a reply came, red where the probe was lost.
// Two panels: the whole black-hole, and the first second, where ndp-announce's story is told.

const (
	svgWidth    = 1000
	svgLabelW   = 215
	svgPlotW    = 620
	svgRowH     = 15
	svgRowGap   = 4
	svgGroupGap = 14
	colReply    = "#2e7d32"
	colLost     = "#d32f2f"
	colAxis     = "#555"
	colGrid     = "#ddd"
)

// timelineRow is one family of one case.
type timelineRow struct {
	label string
	note  string
	s     Series
}

// representative picks, for each case, the run whose slower family's first reply is the median of
// the case's runs (the lower middle one for an even count).
func representative(runs []P1Run) map[P1Case]P1Run {
	by := map[P1Case][]P1Run{}
	for _, r := range runs {
		if r.Err == "" && len(r.Series) == 2 {
			by[r.Case] = append(by[r.Case], r)
		}
	}
	out := map[P1Case]P1Run{}
	for c, rs := range by {
		slowest := func(r P1Run) float64 {
			return math.Max(OutcomeOf(r.Series[0]).Ms, OutcomeOf(r.Series[1]).Ms)
		}
		sort.SliceStable(rs, func(i, j int) bool { return slowest(rs[i]) < slowest(rs[j]) })
		out[c] = rs[(len(rs)-1)/2]
	}
	return out
}

// TimelineSVG draws the P1 picture.
func TimelineSVG(runs []P1Run, capDur time.Duration) string {
	c := &timelineCanvas{y: 20} // below the title
	c.groups, c.titles, c.fullMs = timelineGroups(runs, capDur)
	var fullTicks []float64
	step := niceStep(c.fullMs)
	for t := 0.0; t <= c.fullMs+1e-9; t += step {
		fullTicks = append(fullTicks, t)
	}
	c.panel(timelinePanel{
		title: fmt.Sprintf("Whole black-hole: %.0f s after ADD returned (probes every 20 ms, both families at once)", c.fullMs/1000),
		xMax:  c.fullMs, ticks: fullTicks, tickLabel: func(v float64) string { return fmt.Sprintf("%.0f s", v/1000) }})
	c.panel(timelinePanel{title: "First second, every probe drawn", xMax: 1000, ticks: []float64{0, 200, 400, 600, 800, 1000},
		tickLabel: func(v float64) string { return fmt.Sprintf("%.0f ms", v) }, each: true})
	c.legend()
	y := c.y
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", svgWidth, y, svgWidth, y) +
		fmt.Sprintf(`<rect width="%d" height="%d" fill="#fff"/>`+"\n", svgWidth, y) +
		`<text x="10" y="22" font-size="17" font-weight="bold">A recycled pod IP, seen from a peer on the same bridge</text>` + "\n" +
		c.b.String() + "</svg>\n"
}

// timelineGroups: the median run's rows of each case, REACHABLE cases then STALE ones, with each
// group's title, and the time axis of the whole black-hole.
func timelineGroups(runs []P1Run, capDur time.Duration) (groups [][]timelineRow, titles []string, fullMs float64) {
	rep := representative(runs)
	for _, stale := range []bool{false, true} {
		var rows []timelineRow
		for _, c := range p1Cases() {
			r, ok := rep[c]
			if c.Stale != stale || !ok {
				continue
			}
			for _, s := range r.Series {
				o := OutcomeOf(s)
				note := fmt.Sprintf("%s, %d lost", fmtCapped(o.Ms, ms(capDur)), o.Lost)
				if o.Answered {
					note = fmt.Sprintf("first reply %s, %d lost", fmtMs(o.Ms), o.Lost)
				}
				rows = append(rows, timelineRow{label: c.Setup.Short() + " · " + s.Family, note: note, s: s})
				if n := len(s.Probes); n > 0 {
					fullMs = math.Max(fullMs, ms(s.Probes[n-1].Sent))
				}
			}
		}
		if len(rows) == 0 {
			continue
		}
		groups = append(groups, rows)
		if stale {
			titles = append(titles, "peer's entry for the old container was STALE")
		} else {
			titles = append(titles, "peer's entry for the old container was REACHABLE (it had just talked to it)")
		}
	}
	return groups, titles, niceCeil(fullMs)
}

// timelineCanvas is the picture being drawn, y the next free line.
type timelineCanvas struct {
	b      strings.Builder
	y      int
	groups [][]timelineRow
	titles []string
	fullMs float64
}

// timelinePanel is one time axis with every row drawn on it.
type timelinePanel struct {
	title     string
	xMax      float64 // ms at the right edge
	ticks     []float64
	tickLabel func(float64) string
	each      bool // draw every probe, not runs of them
}

func (c *timelineCanvas) panel(p timelinePanel) {
	b := &c.b
	c.y += 34
	fmt.Fprintf(b, `<text x="10" y="%d" font-size="15" font-weight="bold">%s</text>`+"\n", c.y, html.EscapeString(p.title))
	c.y += 10
	firstRow := -1
	xOf := func(v float64) float64 { return svgLabelW + v/p.xMax*svgPlotW }
	for gi, rows := range c.groups {
		c.y += svgGroupGap + 4
		fmt.Fprintf(b, `<text x="10" y="%d" font-size="12" font-style="italic" fill="%s">%s</text>`+"\n", c.y, colAxis, html.EscapeString(c.titles[gi]))
		c.y += 6
		for _, row := range rows {
			if firstRow < 0 {
				firstRow = c.y
			}
			fmt.Fprintf(b, `<text x="22" y="%d" font-size="12">%s</text>`+"\n", c.y+svgRowH-4, html.EscapeString(row.label))
			fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#f5f5f5"/>`+"\n", svgLabelW, c.y, svgPlotW, svgRowH)
			drawProbes(b, row.s, p.xMax, xOf, c.y, p.each)
			fmt.Fprintf(b, `<text x="%d" y="%d" font-size="11" fill="%s">%s</text>`+"\n", svgLabelW+svgPlotW+8, c.y+svgRowH-4, colAxis, html.EscapeString(row.note))
			c.y += svgRowH + svgRowGap
		}
	}
	for _, t := range p.ticks {
		x := xOf(t)
		label, anchor := p.tickLabel(t), "middle"
		if t == 0 {
			label, anchor = "0: ADD returned", "start"
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-width="0.5"/>`+"\n", x, firstRow, x, c.y, colGrid)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="%s" fill="%s">%s</text>`+"\n", x, c.y+13, anchor, colAxis, label)
	}
	fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000" stroke-width="1.5"/>`+"\n", svgLabelW, firstRow, svgLabelW, c.y)
	c.y += 16
}

func (c *timelineCanvas) legend() {
	b := &c.b
	c.y += 22
	y := c.y
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">reply</text>`+"\n", svgLabelW, y-10, colReply, svgLabelW+16, y)
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="12" fill="%s"/><text x="%d" y="%d" font-size="12">no reply: black-holed to the old MAC</text>`+"\n", svgLabelW+70, y-10, colLost, svgLabelW+86, y)
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="12" fill="%s">median run of each case; grey: not probed any more</text>`+"\n", svgLabelW+330, y, colAxis)
	c.y += 10
}

// drawProbes draws a row's probes: one tick each (each == true), or runs of equal outcome merged
// into bars, so a 40 s black-hole is one red bar, not 2000 overlapping ticks.
func drawProbes(b *strings.Builder, s Series, xMax float64, xOf func(float64) float64, y int, each bool) {
	if each {
		for _, p := range s.Probes {
			t := ms(p.Sent)
			if t > xMax {
				break
			}
			col := colReply
			if p.Reply < 0 {
				col = colLost
			}
			fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="4" height="%d" fill="%s"/>`+"\n", xOf(t), y+1, svgRowH-2, col)
		}
		return
	}
	interval := 20.0
	if len(s.Probes) > 1 {
		interval = ms(s.Probes[1].Sent - s.Probes[0].Sent)
	}
	for i := 0; i < len(s.Probes); {
		lost := s.Probes[i].Reply < 0
		j := i
		for j+1 < len(s.Probes) && (s.Probes[j+1].Reply < 0) == lost {
			j++
		}
		x0 := xOf(ms(s.Probes[i].Sent))
		x1 := xOf(math.Min(ms(s.Probes[j].Sent)+interval, xMax))
		col := colReply
		if lost {
			col = colLost
		}
		fmt.Fprintf(b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", x0, y+1, math.Max(x1-x0, 1.5), svgRowH-2, col)
		i = j + 1
	}
}

// niceCeil rounds a duration in ms up to a whole number of 5 s (at least 5 s).
func niceCeil(v float64) float64 {
	return math.Max(5000, math.Ceil(v/5000)*5000)
}

func niceStep(v float64) float64 {
	switch {
	case v <= 10000:
		return 1000
	case v <= 30000:
		return 5000
	default:
		return 10000
	}
}

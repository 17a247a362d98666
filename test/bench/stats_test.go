package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func series(cap time.Duration, probes ...Probe) Series {
	return Series{Family: "IPv4", Cap: cap, Probes: probes}
}

func TestOutcomeOf(t *testing.T) {
	ms20 := 20 * time.Millisecond
	for _, tc := range []struct {
		name string
		s    Series
		want Outcome
	}{
		{"answered at once", series(time.Minute, Probe{0, 200 * time.Microsecond}, Probe{ms20, ms20 + 100*time.Microsecond}),
			Outcome{Ms: 0.2, Answered: true}},
		{"black-hole then replies", series(time.Minute, Probe{0, -1}, Probe{ms20, -1}, Probe{2 * ms20, 2*ms20 + time.Millisecond}),
			Outcome{Ms: 41, Answered: true, Lost: 2}},
		// Probes queued while the neighbour resolved are answered late, after a later one: the first
		// reply is the earliest to arrive, not the reply of the earliest answered probe.
		{"late reply of an earlier probe", series(time.Minute, Probe{0, 50 * time.Millisecond}, Probe{ms20, 30 * time.Millisecond}),
			Outcome{Ms: 30, Answered: true}},
		{"never answered", series(time.Second, Probe{0, -1}, Probe{ms20, -1}),
			Outcome{Ms: 1000, Lost: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OutcomeOf(tc.s); got != tc.want {
				t.Errorf("OutcomeOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 4, 2, 3})
	if s.Median != 3 || s.Min != 1 || s.Max != 5 || s.N != 5 {
		t.Errorf("Summarize odd = %+v", s)
	}
	if got := Summarize([]float64{1, 2, 3, 4}).Median; got != 2.5 {
		t.Errorf("median of 1..4 = %v, want 2.5", got)
	}
	// 1..20: p90 at rank 0.9*19 = 17.1 -> 18.1 (numpy's linear method).
	var xs []float64
	for i := 20; i >= 1; i-- {
		xs = append(xs, float64(i))
	}
	if got := Summarize(xs).P90; math.Abs(got-18.1) > 1e-9 {
		t.Errorf("p90 of 1..20 = %v, want 18.1", got)
	}
	if !math.IsNaN(Summarize(nil).Median) {
		t.Error("median of nothing is a number")
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{{0.25, "0.2 ms"}, {812, "812 ms"}, {36912, "36.9 s"}, {math.NaN(), "–"}} {
		if got := fmtMs(tc.v); got != tc.want {
			t.Errorf("fmtMs(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := fmtCapped(60000, 60000); got != "> 60.0 s" {
		t.Errorf("capped = %q", got)
	}
	if got := rangeCell(SummarizeOutcomes([]Outcome{{Ms: 100}, {Ms: 60000}, {Ms: 200}}, 60000).FirstReply, 60000, fmtCapped); got != "200 ms (100 ms – > 60.0 s)" {
		t.Errorf("rangeCell = %q", got)
	}
}

func TestNameSockets(t *testing.T) {
	fds := []string{"3 state file (locked)", "4 socket:[11]", "5 socket:[12]", "11 socket:[11]"}
	nameSockets(fds)
	want := []string{"3 state file (locked)", "4 socket #1", "5 socket #2", "11 socket #1 again (a duplicate)"}
	if strings.Join(fds, "|") != strings.Join(want, "|") {
		t.Errorf("nameSockets = %q, want %q", fds, want)
	}
}

// p1Fixture: bridge alone black-holes for 2 s, ndp-announce answers the first probe.
func p1Fixture() []P1Run {
	var runs []P1Run
	for run := 1; run <= 3; run++ {
		for _, c := range p1Cases() {
			r := P1Run{Case: c, Run: run}
			for _, fam := range []string{"IPv4", "IPv6"} {
				s := Series{Family: fam, Cap: time.Minute}
				hole := time.Duration(0)
				if c.Setup != SetupNDPA {
					hole = time.Duration(run) * time.Second
				}
				for at := time.Duration(0); at < hole+time.Second; at += 20 * time.Millisecond {
					p := Probe{Sent: at, Reply: -1}
					if at >= hole {
						p.Reply = at + 100*time.Microsecond
					}
					s.Probes = append(s.Probes, p)
				}
				r.Series = append(r.Series, s)
			}
			runs = append(runs, r)
		}
	}
	return runs
}

func TestRepresentativeIsTheMedianRun(t *testing.T) {
	rep := representative(p1Fixture())
	if got := rep[P1Case{Setup: SetupBridge}].Run; got != 2 {
		t.Errorf("representative bridge run = %d, want the median, 2", got)
	}
}

func TestTimelineSVG(t *testing.T) {
	svg := TimelineSVG(p1Fixture(), time.Minute)
	if !strings.HasPrefix(svg, "<svg ") || !strings.HasSuffix(svg, "</svg>\n") {
		t.Fatalf("not an SVG document: %.60q", svg)
	}
	// The median bridge run lost 2 s of probes (100 per family); ndp-announce none.
	for _, want := range []string{"first reply 2.0 s, 100 lost", "first reply 0.1 ms, 0 lost", "bridge+ndp-announce · IPv6", colLost, colReply} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
	if strings.Count(svg, "<svg") != 1 || strings.Count(svg, "<text") != strings.Count(svg, "</text>") {
		t.Error("unbalanced SVG elements")
	}
}

func TestReportVerdicts(t *testing.T) {
	r := &Results{P1: p1Fixture(), P1Cap: time.Minute, P2: &P2Result{Cycles: 2, Variants: []P2Variant{
		{Name: p2Bridge, Setup: SetupBridge, Label: "bridge alone", Add: []float64{20, 22}, Del: []float64{40, 40}},
		{Name: p2Noop, Setup: SetupNoop, Label: "bridge + no-op", Add: []float64{24, 27}, Del: []float64{41, 41}},
		{Name: p2NDPA, Setup: SetupNDPA, Label: "bridge + ndp-announce", Short: "bridge+ndp-announce", Add: []float64{30, 33}, Del: []float64{60, 60},
			PluginMs: []float64{0.8, 1.0}},
		{Name: p2Service, Setup: SetupNDPASvc, Label: "bridge + ndp-announce, node service", Short: "svc", Add: []float64{25, 28}, Del: []float64{50, 50},
			PluginMs: []float64{1.2, 1.6}},
	}}}
	out := Report(r, "docs/x.svg")
	for _, want := range []string{
		"| P1 black-hole with ndp-announce | 0 probes lost after ADD returns | **met**: 0 lost in 6 runs",
		// Paired: 30-20 and 33-22.
		"| P2 ADD latency | ≤ 8 ms added over bridge alone at the median | **missed**: 10.50 ms (1.31× the target), median of 2 |",
		"| P2 ndp-announce's own work | ≤ 1 ms median (the `ms` of its ADD log line) | **met**: 0.90 ms (0.90× the target), median of 2 |",
		"| P2 own work, node service | ≤ 1 ms median (the `ms` of its ADD log line) | **missed**: 1.40 ms (1.40× the target), median of 2 |",
		// Paired: 30-24 and 33-27, not the difference of the medians.
		"| P2 ADD over the no-op floor | ≤ 1.5 ms added over the no-op chained plugin at the median | **missed**: 6.00 ms (4.00× the target), median of 2 |",
		"| ADD, bridge + no-op | 25.5 | 26.7 | 24.0 | 27.0 | 1.21× |",
		"| **added over the no-op chained plugin: bridge+ndp-announce** | 6.0 |",
		"| DEL, bridge + ndp-announce | 60.0 | 60.0 | 60.0 | 60.0 | 1.50× |",
		"| bridge alone | 2.0 s (1.0 s – 3.0 s) | 100 (50 – 150) |",
		"![The peer's probes", "(docs/x.svg)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

package main

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Probe is one echo request: when it left and when its reply came, both after ADD returned.
type Probe struct {
	Sent  time.Duration `json:"sent"`
	Reply time.Duration `json:"reply"` // < 0: never answered
}

// Series is one family's probes in one measurement.
type Series struct {
	Family string        `json:"family"`
	Target string        `json:"target"`
	Cap    time.Duration `json:"cap"`
	Probes []Probe       `json:"probes"`
}

// FirstReply is when the first reply arrived, and false when none did before the cap.
func (s Series) FirstReply() (time.Duration, bool) {
	first := time.Duration(-1)
	for _, p := range s.Probes {
		if p.Reply >= 0 && (first < 0 || p.Reply < first) {
			first = p.Reply
		}
	}
	return first, first >= 0
}

// Lost counts probes that never got a reply. The pinger keeps reading after its last probe, so every
// probe had time to be answered: after the black-hole closes nothing is lost.
func (s Series) Lost() int {
	n := 0
	for _, p := range s.Probes {
		if p.Reply < 0 {
			n++
		}
	}
	return n
}

// Outcome is the figure a run gives for one family.
type Outcome struct {
	Ms       float64 // ms from ADD returned to the first reply; the cap when Answered is false
	Answered bool
	Lost     int
}

// OutcomeOf summarises a series.
func OutcomeOf(s Series) Outcome {
	if d, ok := s.FirstReply(); ok {
		return Outcome{Ms: ms(d), Answered: true, Lost: s.Lost()}
	}
	return Outcome{Ms: ms(s.Cap), Lost: s.Lost()}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Summary is the median and range of a sample.
type Summary struct {
	N           int
	Median, P90 float64
	Min, Max    float64
}

// Summarize: median and p90 by linear interpolation between closest ranks (numpy's default), so
// 20 samples give a p90 between the 18th and 19th smallest.
func Summarize(xs []float64) Summary {
	s := Summary{N: len(xs)}
	if len(xs) == 0 {
		s.Median, s.P90, s.Min, s.Max = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		return s
	}
	v := append([]float64(nil), xs...)
	sort.Float64s(v)
	s.Min, s.Max = v[0], v[len(v)-1]
	s.Median = quantile(v, 0.5)
	s.P90 = quantile(v, 0.9)
	return s
}

func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	frac := pos - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// OutcomeSummary summarises one family of one case over its runs.
type OutcomeSummary struct {
	FirstReply Summary
	Lost       Summary
	Unanswered int // runs where no reply came before the cap
	CapMs      float64
}

// SummarizeOutcomes: a run that never got a reply counts as the cap, and the summary says how many.
func SummarizeOutcomes(outs []Outcome, capMs float64) OutcomeSummary {
	var first, lost []float64
	s := OutcomeSummary{CapMs: capMs}
	for _, o := range outs {
		first = append(first, o.Ms)
		lost = append(lost, float64(o.Lost))
		if !o.Answered {
			s.Unanswered++
		}
	}
	s.FirstReply = Summarize(first)
	s.Lost = Summarize(lost)
	return s
}

// fmtMs prints a duration in ms the way a reader scans it: "0.4 ms", "812 ms", "36.9 s".
func fmtMs(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v < 10:
		return fmt.Sprintf("%.1f ms", v)
	case v < 1000:
		return fmt.Sprintf("%.0f ms", v)
	default:
		return fmt.Sprintf("%.1f s", v/1000)
	}
}

// fmtCapped prints a value that may be the cap as "> 60 s".
func fmtCapped(v, capMs float64) string {
	if v >= capMs {
		return "> " + fmtMs(capMs)
	}
	return fmtMs(v)
}

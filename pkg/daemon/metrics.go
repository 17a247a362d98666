package daemon

import (
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ndp-announce/ndp-announce/pkg/handoff"
)

// Round labels of ndp_announce_frames_sent_total.
const (
	roundFirst      = "first"      // ADD's own round, reported in the hand-off
	roundBackground = "background" // the service's rounds
)

// metrics are the node's counters. Every label has a fixed, small set of values, all created at
// start so that a scrape shows zeros rather than nothing.
type metrics struct {
	reg         *prometheus.Registry
	frames      *prometheus.CounterVec
	sendErrors  *prometheus.CounterVec
	attachments prometheus.Gauge
	addDuration prometheus.Histogram
	waits       *prometheus.HistogramVec
	stalePeers  *prometheus.CounterVec
	accepted    atomic.Uint64
}

func newMetrics(dataDir string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ndp_announce_frames_sent_total",
			Help: "Announcement frames sent, by kind and by round: ADD's first round or the service's background rounds.",
		}, []string{"kind", "round"}),
		sendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ndp_announce_send_errors_total",
			Help: "Announcement sends that failed, by kind (first and background rounds).",
		}, []string{"kind"}),
		attachments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ndp_announce_background_attachments",
			Help: "Attachments whose background rounds or black-hole listener the service is running now.",
		}),
		addDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ndp_announce_add_duration_seconds",
			Help:    "Duration of the ADDs that reported to the service, up to the report.",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5, 10},
		}),
		waits: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ndp_announce_wait_seconds",
			Help:    "How long ADD's waits took, by condition and outcome.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 3, 5, 10, 30},
		}, []string{"condition", "outcome"}),
		stalePeers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ndp_announce_stale_peers_total",
			Help: "Peers the black-hole listener found still sending to an old MAC and sent a directed request, by family.",
		}, []string{"family"}),
	}
	m.stalePeers.WithLabelValues("ipv4")
	m.stalePeers.WithLabelValues("ipv6")
	for _, k := range handoff.FrameKinds {
		m.frames.WithLabelValues(k.String(), roundFirst)
		m.frames.WithLabelValues(k.String(), roundBackground)
		m.sendErrors.WithLabelValues(k.String())
	}
	for _, c := range handoff.WaitConditions {
		for _, o := range handoff.WaitOutcomes {
			m.waits.WithLabelValues(string(c), string(o))
		}
	}
	m.reg.MustRegister(m.frames, m.sendErrors, m.attachments, m.addDuration, m.waits, m.stalePeers,
		&handoffsCollector{m: m, fallbacks: handoff.FallbackPath(dataDir)},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// report counts what one ADD measured and sent before its hand-off.
func (m *metrics) report(r *handoff.Report) {
	if r == nil {
		return
	}
	m.addDuration.Observe(r.AddSeconds)
	for _, k := range handoff.FrameKinds {
		m.frames.WithLabelValues(k.String(), roundFirst).Add(float64(r.FirstRound.Sent.Of(k)))
		m.sendErrors.WithLabelValues(k.String()).Add(float64(r.FirstRound.Failed.Of(k)))
	}
	for _, w := range r.Waits {
		m.waits.WithLabelValues(string(w.Condition), string(w.Outcome)).Observe(w.Seconds)
	}
}

// sent counts one background send.
func (m *metrics) sent(k handoff.FrameKind, err error, expectNoMcast bool) {
	var f handoff.Frames
	f.Count(k, err, expectNoMcast)
	if f.Sent.Of(k) > 0 {
		m.frames.WithLabelValues(k.String(), roundBackground).Inc()
	}
	if f.Failed.Of(k) > 0 {
		m.sendErrors.WithLabelValues(k.String()).Inc()
	}
}

// stalePeer counts one peer the listener sent a request to.
func (m *metrics) stalePeer(ip netip.Addr) {
	family := "ipv6"
	if ip.Is4() {
		family = "ipv4"
	}
	m.stalePeers.WithLabelValues(family).Inc()
}

// handoffsCollector is ndp_announce_handoffs_total: hand-offs this service accepted, and the ADDs
// that fell back to a detached process, which the plugin records in dataDir (one byte each, see
// handoff.RecordFallback) because the service may not be running to hear about them.
type handoffsCollector struct {
	m         *metrics
	fallbacks string
}

var handoffsDesc = prometheus.NewDesc("ndp_announce_handoffs_total",
	"ADDs with announcements after round 1: handed to the service (accepted), or to a detached process (fallback, counted since boot).",
	[]string{"result"}, nil)

func (c *handoffsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- handoffsDesc }

func (c *handoffsCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(handoffsDesc, prometheus.CounterValue, float64(c.m.accepted.Load()), "accepted")
	var n int64
	if fi, err := os.Lstat(c.fallbacks); err == nil && fi.Mode().IsRegular() {
		n = fi.Size()
	}
	ch <- prometheus.MustNewConstMetric(handoffsDesc, prometheus.CounterValue, float64(n), "fallback")
}

func promhttpHandler(m *metrics) http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4})
}

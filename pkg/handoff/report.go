package handoff

import "fmt"

// Report is what one ADD measured and sent before it handed over, so the service counts every ADD
// on the node, not only the rounds it sends itself.
type Report struct {
	// AddSeconds is the ADD's duration up to the hand-off.
	AddSeconds float64 `json:"addSeconds"`
	// FirstRound is what round 1 sent and failed to send.
	FirstRound Frames `json:"firstRound"`
	Waits      []Wait `json:"waits,omitempty"`
}

// Wait is how one of ADD's waits ended.
type Wait struct {
	Condition WaitCondition `json:"condition"`
	Outcome   WaitOutcome   `json:"outcome"`
	Seconds   float64       `json:"seconds"`
}

// WaitCondition names a wait, as the metrics label it.
type WaitCondition string

const (
	WaitLinkUp     WaitCondition = "link_up"
	WaitBridgePort WaitCondition = "bridge_port"
	WaitMcastRoute WaitCondition = "mcast_route"
	WaitDAD        WaitCondition = "dad"
)

// WaitConditions are all the conditions, for metrics that list their label values.
var WaitConditions = []WaitCondition{WaitLinkUp, WaitBridgePort, WaitMcastRoute, WaitDAD}

// WaitOutcome is how a wait ended.
type WaitOutcome string

const (
	WaitMet     WaitOutcome = "met"
	WaitTimeout WaitOutcome = "timeout" // gave up: deadline, or an error before it
	WaitSkipped WaitOutcome = "skipped"
)

// WaitOutcomes are all the outcomes.
var WaitOutcomes = []WaitOutcome{WaitMet, WaitTimeout, WaitSkipped}

func (r *Report) validate() error {
	if err := finiteSeconds("report.addSeconds", r.AddSeconds); err != nil {
		return err
	}
	if err := r.FirstRound.validate(); err != nil {
		return fmt.Errorf("report.firstRound: %w", err)
	}
	if len(r.Waits) > MaxWaits {
		return fmt.Errorf("report.waits: %d, at most %d", len(r.Waits), MaxWaits)
	}
	for i, w := range r.Waits {
		if !oneOf(w.Condition, WaitConditions) {
			return fmt.Errorf("report.waits[%d]: unknown condition %q", i, w.Condition)
		}
		if !oneOf(w.Outcome, WaitOutcomes) {
			return fmt.Errorf("report.waits[%d]: unknown outcome %q", i, w.Outcome)
		}
		if err := finiteSeconds(fmt.Sprintf("report.waits[%d].seconds", i), w.Seconds); err != nil {
			return err
		}
	}
	return nil
}

func oneOf[T comparable](v T, set []T) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

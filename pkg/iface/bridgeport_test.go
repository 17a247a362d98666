package iface

import "testing"

func TestPortStep(t *testing.T) {
	port := func(state uint8) linkMsg {
		return linkMsg{Master: 3, SlaveKind: "bridge", HasPortState: true, PortState: state}
	}
	tests := []struct {
		name           string
		peer           linkMsg
		wantForwarding bool
		wantState      string
		wantSkip       string
	}{
		{"forwarding", port(portForwarding), true, "forwarding", ""},
		{"disabled", port(portDisabled), false, "disabled", ""},
		{"learning", port(portLearning), false, "learning", ""},
		{"no master", linkMsg{}, false, "", "no bridge master"},
		{"bond slave", linkMsg{Master: 4, SlaveKind: "bond"}, false, "", "master is a bond, not a bridge"},
		{"master without slave kind", linkMsg{Master: 4}, false, "", "master is not a bridge"},
		{"bridge port without state", linkMsg{Master: 3, SlaveKind: "bridge"}, false, "", "bridge port state not reported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fwd, state, skip := portStep(tt.peer)
			if fwd != tt.wantForwarding || state != tt.wantState || skip != tt.wantSkip {
				t.Errorf("portStep = %v, %q, %q; want %v, %q, %q", fwd, state, skip, tt.wantForwarding, tt.wantState, tt.wantSkip)
			}
		})
	}
}

func TestSTPOn(t *testing.T) {
	for _, tt := range []struct {
		br   linkMsg
		want bool
	}{
		{linkMsg{HasSTPState: true, STPState: 0}, false},
		{linkMsg{HasSTPState: true, STPState: 1}, true}, // kernel STP
		{linkMsg{HasSTPState: true, STPState: 2}, true}, // user-space STP
		{linkMsg{}, false}, // not reported: wait, the deadline bounds it
	} {
		if got := stpOn(tt.br); got != tt.want {
			t.Errorf("stpOn(%+v) = %v, want %v", tt.br, got, tt.want)
		}
	}
}

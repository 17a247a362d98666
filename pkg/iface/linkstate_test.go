package iface

import "testing"

func TestLinkUp(t *testing.T) {
	tests := []struct {
		name      string
		flags     uint32
		oper      uint8
		wantUp    bool
		wantState string
	}{
		{"admin down", 0x1002, operDown, false, "down"},
		{"admin down, stale oper up", 0x1002, operUp, false, "down"},
		{"up with carrier", 0x11003, operUp, true, "up"},
		{"veth with peer down", 0x1003, operLowerLayerDown, false, "up, oper lowerlayerdown"},
		{"no carrier", 0x1003, operDown, false, "up, oper down"},
		{"dormant", 0x11003, operDormant, false, "up, oper dormant"},
		{"dummy never reports oper state", 0x10083, operUnknown, true, "up, oper unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up, state := linkUp(tt.flags, tt.oper)
			if up != tt.wantUp || state != tt.wantState {
				t.Errorf("linkUp(%#x, %d) = %v, %q; want %v, %q", tt.flags, tt.oper, up, state, tt.wantUp, tt.wantState)
			}
		})
	}
}

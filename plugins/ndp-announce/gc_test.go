package main

import (
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"

	"github.com/ndp-announce/ndp-announce/pkg/announcer"
)

// GC stops and forgets the announcers of this network's attachments that are not in
// cni.dev/valid-attachments, and only those: a valid attachment's, and another network's sharing
// the dataDir, keep running.
func TestGCRemovesOnlyInvalidAttachmentsOfItsNetwork(t *testing.T) {
	b := newBed(t)
	valid, stale := b.attach(t, attachOptions{}), b.attach(t, attachOptions{})
	other := b.attach(t, attachOptions{})
	for _, a := range []*attachment{valid, stale} {
		if _, err := a.add(t, a.conf(t, longRounds())); err != nil {
			t.Fatalf("ADD %s: %v", a.id, err)
		}
	}
	otherFields := longRounds()
	otherFields["name"] = "ndpa-other"
	otherConf := other.conf(t, otherFields)
	if _, err := other.add(t, otherConf); err != nil {
		t.Fatalf("ADD %s in another network: %v", other.id, err)
	}
	t.Cleanup(func() { other.del(otherConf) })
	pids := map[string]int{
		"valid": announcerPID(t, b.dataDir, b.network, valid.id),
		"stale": announcerPID(t, b.dataDir, b.network, stale.id),
		"other": announcerPID(t, b.dataDir, "ndpa-other", other.id),
	}

	if err := b.gc(t, []types.GCAttachment{{ContainerID: valid.id, IfName: bedIf}}); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if !waitExit(pids["stale"], time.Second) {
		t.Errorf("the announcer of %s, not a valid attachment, still runs after GC", stale.id)
	}
	requireRunning(t, pids, "valid", "other")
	if n := len(stateFiles(t, b.dataDir)); n != 2 {
		t.Errorf("%d state files after GC, want 2 (the valid attachment's and the other network's)", n)
	}

	if err := b.gc(t, nil); err != nil {
		t.Fatalf("GC with no valid attachments: %v", err)
	}
	if !waitExit(pids["valid"], time.Second) {
		t.Errorf("the announcer of %s still runs after a GC that no longer lists it", valid.id)
	}
	requireRunning(t, pids, "other")
}

// announcerPID is the PID the attachment's state file records.
func announcerPID(t *testing.T, dataDir, network, containerID string) int {
	t.Helper()
	raw, err := os.ReadFile(announcer.StatePath(dataDir, announcer.Key{Network: network, ContainerID: containerID, IfName: bedIf}))
	if err != nil {
		t.Fatalf("state of %s: %v", containerID, err)
	}
	var rec announcer.Record
	if err := json.Unmarshal(raw, &rec); err != nil || rec.PID <= 0 {
		t.Fatalf("state of %s: %q: %v", containerID, raw, err)
	}
	return rec.PID
}

func requireRunning(t *testing.T, pids map[string]int, names ...string) {
	t.Helper()
	for _, name := range names {
		if waitExit(pids[name], 0) {
			t.Errorf("the %s attachment's announcer %d was stopped", name, pids[name])
		}
	}
}

// gcConf is the bed network's GC config (GC is new in 1.1.0).
func (b *bed) gcConf(t *testing.T, valid []types.GCAttachment, fields map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"cniVersion": "1.1.0", "name": b.network, "type": "ndp-announce",
		"dataDir": b.dataDir, "logFile": b.logFile, "cni.dev/valid-attachments": valid,
	}
	for k, v := range fields {
		m[k] = v
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (b *bed) gc(t *testing.T, valid []types.GCAttachment) error {
	t.Helper()
	if valid == nil {
		valid = []types.GCAttachment{}
	}
	return cmdGC(&skel.CmdArgs{StdinData: b.gcConf(t, valid, nil)})
}

// GC with nothing recorded (no dataDir yet) succeeds; a config without a usable dataDir is code 7
// naming it; stdin that is not JSON is code 6.
func TestGCErrors(t *testing.T) {
	b := newBed(t)
	if err := b.gc(t, nil); err != nil {
		t.Errorf("GC before any ADD: %v", err)
	}
	bad := b.gcConf(t, nil, map[string]any{"dataDir": "data"})
	requireConfigError(t, cmdGC(&skel.CmdArgs{StdinData: bad}), types.ErrInvalidNetworkConfig, "dataDir")
	requireConfigError(t, cmdGC(&skel.CmdArgs{StdinData: []byte("[")}), types.ErrDecodingFailure, "JSON")
}
